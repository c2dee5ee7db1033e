#include "common/rocks/keys.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

std::string SortableMillis(absl::Time t) {
  std::string out;
  AppendSortableMillis(t, &out);
  return out;
}

std::string SortableInt64(int64_t v) {
  std::string out;
  AppendSortableInt64(v, &out);
  return out;
}

// The bytes below were produced by the code each key came from before the
// encoding was shared (collector/storage/rocks_storage.cc's PutBE64 and
// SortableMillis, agent/spool.cc's ItemKey, agent/label_store.cc's OrderKey,
// AuditTrail::Key): existing data directories hold them.
TEST(KeysTest, BytesAreThoseExistingDirectoriesHold) {
  EXPECT_EQ(Hex(Uint64BigEndian(0x0102030405060708)), "0102030405060708");
  EXPECT_EQ(Hex(Uint64BigEndian(0)), "0000000000000000");
  EXPECT_EQ(Hex(Uint64BigEndian(kMaxU64)), "ffffffffffffffff");

  // Collector: reports/rollup key [model_id u64][window_start_ms i64+2^63].
  std::string key = Uint64BigEndian(7);
  AppendSortableMillis(absl::FromUnixMillis(1700000000123), &key);
  EXPECT_EQ(Hex(key), "00000000000000078000018bcfe5687b");
  key = Uint64BigEndian(7);
  AppendSortableMillis(absl::FromUnixMillis(-1500), &key);
  EXPECT_EQ(Hex(key), "00000000000000077ffffffffffffa24");
  // rollup_dirty: [level u8][model_id][bucket_start].
  key = std::string(1, '\x03');
  AppendUint64BigEndian(7, &key);
  AppendSortableMillis(absl::FromUnixMillis(1700000000000), &key);
  EXPECT_EQ(Hex(key), "0300000000000000078000018bcfe56800");
  // Rollup states hold the infinities as the extremes.
  EXPECT_EQ(Hex(SortableMillis(absl::InfinitePast())), "0000000000000000");
  EXPECT_EQ(Hex(SortableMillis(absl::InfiniteFuture())), "ffffffffffffffff");
  EXPECT_EQ(Hex(SortableMillis(absl::UnixEpoch())), "8000000000000000");

  // Agent spool item: 'r' + sequence.
  key = "r";
  AppendUint64BigEndian(258, &key);
  EXPECT_EQ(Hex(key), "720000000000000102");
  // Agent label store order key: 't' + arrival nanos (unsigned) + id.
  key = "t";
  AppendUint64BigEndian(static_cast<uint64_t>(1700000000123456789), &key);
  key += "p-1";
  EXPECT_EQ(Hex(key), "7417979cfe3d85cd15702d31");
  // Audit trail index.
  EXPECT_EQ(Hex(Uint64BigEndian(1)), "0000000000000001");
  EXPECT_EQ(Hex(Uint64BigEndian(0x0a0b0c0d0e0f1011)), "0a0b0c0d0e0f1011");
}

TEST(KeysTest, UnsignedRoundTripsAtTheBoundaries) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256},
                     uint64_t{1} << 32, (uint64_t{1} << 63) - 1,
                     uint64_t{1} << 63, kMaxU64}) {
    const std::string bytes = Uint64BigEndian(v);
    ASSERT_EQ(bytes.size(), kEncodedUint64Bytes);
    EXPECT_EQ(ReadUint64BigEndian(bytes), v);
    // At an offset, as inside a composite key.
    EXPECT_EQ(ReadUint64BigEndian("prefix" + bytes + "tail", 6), v);
  }
}

TEST(KeysTest, SignedRoundTripsAtTheBoundaries) {
  for (int64_t v : {kMinI64, kMinI64 + 1, int64_t{-1}, int64_t{0}, int64_t{1},
                    kMaxI64 - 1, kMaxI64}) {
    const std::string bytes = SortableInt64(v);
    ASSERT_EQ(bytes.size(), kEncodedUint64Bytes);
    EXPECT_EQ(ReadSortableInt64(bytes), v);
  }
  EXPECT_EQ(Hex(SortableInt64(kMinI64)), "0000000000000000");
  EXPECT_EQ(Hex(SortableInt64(-1)), "7fffffffffffffff");
  EXPECT_EQ(Hex(SortableInt64(0)), "8000000000000000");
  EXPECT_EQ(Hex(SortableInt64(kMaxI64)), "ffffffffffffffff");
}

TEST(KeysTest, TimesRoundTripToTheMillisecondRoundingDown) {
  for (absl::Time t :
       {absl::UnixEpoch(), absl::FromUnixMillis(1700000000123),
        absl::FromUnixMillis(-1500), absl::FromUnixMillis(kMinI64 + 1),
        absl::FromUnixMillis(kMaxI64 - 1)}) {
    EXPECT_EQ(ReadSortableMillis(SortableMillis(t)), t);
  }
  // Sub-millisecond parts are dropped, towards the past.
  EXPECT_EQ(ReadSortableMillis(SortableMillis(absl::FromUnixMillis(5) +
                                              absl::Microseconds(999))),
            absl::FromUnixMillis(5));
  EXPECT_EQ(ReadSortableMillis(
                SortableMillis(absl::UnixEpoch() - absl::Nanoseconds(1))),
            absl::FromUnixMillis(-1));
  // The infinities come back as the extreme finite milliseconds, in order.
  const absl::Time past =
      ReadSortableMillis(SortableMillis(absl::InfinitePast()));
  const absl::Time future =
      ReadSortableMillis(SortableMillis(absl::InfiniteFuture()));
  EXPECT_EQ(absl::ToUnixMillis(past), kMinI64);
  EXPECT_EQ(absl::ToUnixMillis(future), kMaxI64);
  EXPECT_LT(past, absl::FromUnixMillis(kMinI64 + 1));
  EXPECT_GT(future, absl::FromUnixMillis(kMaxI64 - 1));
  EXPECT_EQ(SortableMillis(past), SortableMillis(absl::InfinitePast()));
  EXPECT_EQ(SortableMillis(future), SortableMillis(absl::InfiniteFuture()));
}

// Bytewise order of encodings (RocksDB's comparator) equals numeric order.
TEST(KeysTest, EncodingsSortNumerically) {
  std::vector<uint64_t> u = {0,
                             1,
                             255,
                             256,
                             65535,
                             uint64_t{1} << 32,
                             (uint64_t{1} << 63) - 1,
                             uint64_t{1} << 63,
                             kMaxU64 - 1,
                             kMaxU64};
  std::vector<int64_t> s = {
      kMinI64, kMinI64 + 1, -(int64_t{1} << 40), -256,   -1, 0,
      1,       256,         int64_t{1} << 40,    kMaxI64};
  std::vector<absl::Time> t = {
      absl::InfinitePast(),     absl::FromUnixMillis(-86400000),
      absl::FromUnixMillis(-1), absl::UnixEpoch(),
      absl::FromUnixMillis(1),  absl::FromUnixMillis(1700000000123),
      absl::InfiniteFuture()};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 500; ++i) {
    const uint64_t r = rng();
    u.push_back(r);
    u.push_back(r >> (r % 64));
    s.push_back(static_cast<int64_t>(r));
    s.push_back(static_cast<int64_t>(r) >> (r % 64));
    t.push_back(absl::FromUnixMillis(static_cast<int64_t>(r) >> 20));
  }
  for (size_t i = 0; i < u.size(); ++i) {
    for (size_t j = 0; j < u.size(); j += 7) {
      EXPECT_EQ(u[i] < u[j], Uint64BigEndian(u[i]) < Uint64BigEndian(u[j]))
          << u[i] << " vs " << u[j];
    }
  }
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t j = 0; j < s.size(); j += 7) {
      EXPECT_EQ(s[i] < s[j], SortableInt64(s[i]) < SortableInt64(s[j]))
          << s[i] << " vs " << s[j];
    }
  }
  for (size_t i = 0; i < t.size(); ++i) {
    for (size_t j = 0; j < t.size(); j += 7) {
      EXPECT_EQ(t[i] < t[j], SortableMillis(t[i]) < SortableMillis(t[j]))
          << t[i] << " vs " << t[j];
    }
  }
  // Sorting encodings sorts the values.
  std::vector<std::string> encoded;
  for (int64_t v : s) encoded.push_back(SortableInt64(v));
  std::sort(encoded.begin(), encoded.end());
  std::sort(s.begin(), s.end());
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(ReadSortableInt64(encoded[i]), s[i]);
  }
}

TEST(KeysTest, ShortInputReadsAsZeroPaddedAndNeverPastTheEnd) {
  EXPECT_EQ(ReadUint64BigEndian(""), 0u);
  EXPECT_EQ(ReadUint64BigEndian(std::string("\x01", 1)), 0x0100000000000000u);
  EXPECT_EQ(ReadUint64BigEndian(std::string("\x01\x02\x03", 3)),
            0x0102030000000000u);
  // Offsets at or past the end.
  const std::string nine = Uint64BigEndian(kMaxU64) + "z";
  EXPECT_EQ(ReadUint64BigEndian(nine, 9), 0u);
  EXPECT_EQ(ReadUint64BigEndian(nine, 100), 0u);
  EXPECT_EQ(ReadUint64BigEndian(nine, 7), 0xff7a000000000000u);
  // Bytes after the eighth are ignored.
  EXPECT_EQ(ReadUint64BigEndian(nine), kMaxU64);
  // A short prefix decodes as the smallest value that starts with it.
  EXPECT_EQ(ReadSortableInt64(""), kMinI64);
  EXPECT_EQ(ReadSortableMillis(""), absl::FromUnixMillis(kMinI64));
}

}  // namespace
}  // namespace aims

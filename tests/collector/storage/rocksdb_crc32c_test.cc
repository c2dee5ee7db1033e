// RocksDB's CRC32C, replaced at link time by
// collector/storage/rocksdb_crc32c.cc: the same checksums as RocksDB's own
// code, and RocksDB's writes and reads really go through it.
#include "collector/storage/rocksdb_crc32c.h"

#include <cstring>
#include <random>
#include <string>

#include "collector/storage/rocks_storage.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

// RocksDB's function (util/crc32c.h is not installed); the link's --wrap
// sends this call where RocksDB's own go.
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
}  // namespace rocksdb::crc32c

extern "C" uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc,
                                                           const char* data,
                                                           size_t size);

namespace aims::collector {
namespace {

uint32_t Crc(const std::string& s) {
  return rocksdb::crc32c::Extend(0, s.data(), s.size());
}

TEST(RocksDbCrc32cTest, KnownValuesAndRocksDbsOwnAgree) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) {
    EXPECT_STREQ(RocksDbCrc32cImplementation(), "sse4.2");
  }
#endif
  if (std::strcmp(RocksDbCrc32cImplementation(), "sse4.2") != 0) {
    GTEST_SKIP() << "no SSE4.2: the replacement calls RocksDB's own code";
  }
  // RFC 3720 (iSCSI) test vectors and the classic check value.
  EXPECT_EQ(Crc("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, 0);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc(ascending), 0x46DD794Eu);
  // Any length, any alignment, chained: equal to RocksDB's implementation.
  std::mt19937 rng(7);
  std::string data(70000, 0);
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t start : {0u, 1u, 3u, 7u}) {
    for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 4096u, 65000u}) {
      const uint32_t seed = static_cast<uint32_t>(rng());
      EXPECT_EQ(rocksdb::crc32c::Extend(seed, data.data() + start, len),
                __real__ZN7rocksdb6crc32c6ExtendEjPKcm(
                    seed, data.data() + start, len))
          << start << "+" << len;
    }
  }
}

// A directory written and read back with the replacement: RocksDB's WAL and
// blob files checksum every record, so the calls go up, and the reports
// read back whole (a wrong checksum would be a corruption error).
TEST(RocksDbCrc32cTest, RocksDbChecksumsGoThroughIt) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.File("data");
  options.min_free_disk_bytes = 0;
  const uint64_t before = RocksDbCrc32cCalls();
  {
    auto storage = RocksStorage::Open(options);
    ASSERT_TRUE(storage.ok()) << storage.status();
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id("a1");
    hello.mutable_model()->set_name("m");
    hello.mutable_model()->set_version("v1");
    hello.mutable_model()->set_environment("e");
    ASSERT_TRUE((*storage)->RegisterAgent(hello, absl::Now()).ok());
    std::vector<v1::WindowReport> reports(3);
    for (int i = 0; i < 3; ++i) {
      v1::WindowReport& r = reports[i];
      r.set_agent_id("a1");
      r.set_sequence(i + 1);
      *r.mutable_window_start() = ToProto(absl::Now() - absl::Minutes(10 - i));
      *r.mutable_window_end() = ToProto(absl::Now() - absl::Minutes(9 - i));
      r.mutable_summary()->mutable_operational()->set_event_count(7);
      r.mutable_summary()->mutable_operational()->set_error_count(i);
      // Big enough for a blob file (values of 1 KiB or more).
      r.mutable_summary()->add_features()->set_name(std::string(2000, 'f'));
    }
    std::vector<const v1::WindowReport*> pointers;
    for (const v1::WindowReport& r : reports) pointers.push_back(&r);
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(
        (*storage)->WriteReports(pointers, absl::Now(), &outcomes).ok());
  }
  EXPECT_GT(RocksDbCrc32cCalls(), before);
  auto reopened = RocksStorage::Open(options);  // replays the WAL
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  v1::ModelRef model;
  model.set_name("m");
  model.set_version("v1");
  model.set_environment("e");
  std::vector<v1::WindowReport> back;
  ASSERT_TRUE((*reopened)
                  ->ScanReports(model, absl::Now() - absl::Hours(1),
                                absl::Now(),
                                [&](const StoredReport& r) {
                                  back.push_back(r.report);
                                  return true;
                                })
                  .ok());
  ASSERT_EQ(back.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back[i].sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(back[i].summary().features(0).name().size(), 2000u);
  }
}

}  // namespace
}  // namespace aims::collector

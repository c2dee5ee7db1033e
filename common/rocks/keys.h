// Keys: the one byte encoding of integers and times inside RocksDB keys (and
// the few values that hold them), shared by the agent's spool and label
// store and the collector's storage and audit trail.
//
// Contract:
//  - An unsigned integer is 8 bytes, most significant first (big-endian), so
//    that RocksDB's default bytewise comparator orders encodings as numbers:
//    a < b exactly when Uint64BigEndian(a) < Uint64BigEndian(b).
//  - A signed integer is stored "sortable": its two's complement with the
//    sign bit flipped (value + 2^63), big-endian, so that negative values
//    sort before zero and positive ones in numeric order too.
//  - A time is its whole milliseconds since the Unix epoch (rounded down),
//    as a sortable signed integer: times before 1970 sort first.
//    absl::InfinitePast() and absl::InfiniteFuture() encode as INT64_MIN and
//    INT64_MAX milliseconds, before and after every other time; they decode
//    as the finite times of those milliseconds (about 292 million years
//    away), not as the infinities, and keep their order.
//  - Reads never look past their input: of fewer than 8 bytes at `offset`,
//    the missing trailing bytes count as zero (the smallest value whose
//    encoding starts with the bytes present); bytes after the 8 are ignored.
//    Callers that must refuse short keys check the length first.
//  - These are the bytes that existing data directories hold: they never
//    change (tests/common/rocks/keys_test.cc pins them).
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_ROCKS_KEYS_H_
#define AIMS_COMMON_ROCKS_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace aims {

// Bytes of every encoded integer or time.
inline constexpr size_t kEncodedUint64Bytes = 8;

// Unsigned integers, big-endian.
void AppendUint64BigEndian(uint64_t value, std::string* out);
std::string Uint64BigEndian(uint64_t value);
uint64_t ReadUint64BigEndian(absl::string_view bytes, size_t offset = 0);

// Signed integers, order-preserving (sign bit flipped, big-endian).
void AppendSortableInt64(int64_t value, std::string* out);
int64_t ReadSortableInt64(absl::string_view bytes, size_t offset = 0);

// Times as order-preserving signed milliseconds since the Unix epoch.
void AppendSortableMillis(absl::Time t, std::string* out);
absl::Time ReadSortableMillis(absl::string_view bytes, size_t offset = 0);

}  // namespace aims

#endif  // AIMS_COMMON_ROCKS_KEYS_H_

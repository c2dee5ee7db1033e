// Internal to RocksStorage: the key layout (rocks_storage.h, docs/storage.md)
// that its parts - open and load (rocks_storage.cc), writes
// (rocks_storage_write.cc), reads (rocks_storage_read.cc) and maintenance
// (rocks_storage_maintenance.cc) - share. Not for use outside
// collector/storage/; integers and times go through common/rocks/keys.h.
//
// Thread-safety: stateless functions and constants.
#ifndef AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_INTERNAL_H_
#define AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/ingest.pb.h"
#include "collector/storage/rocks_storage.h"
#include "collector/storage/wire_filter.h"
#include "common/rocks/keys.h"

namespace aims::collector::rocks_storage_internal {

// Keys of the default column family.
inline constexpr char kSchemaKey[] = "schema_version";
inline constexpr char kNextIdKey[] = "next_id";
inline constexpr char kRollupStatePrefix[] = "rollup:";

// Rollup levels by name, finest first: their column families are
// "rollup_<name>".
inline constexpr const char* kRollupLevelNames[] = {"10s", "1m", "10m", "1h",
                                                    "1d"};
static_assert(std::size(kRollupLevelNames) == RocksStorage::kRollupLevels);

// Byte offsets in keys that start with a TimeKey (below): rollup keys
// [model_id][bucket_start] and reports keys
// [model_id][window_start][agent_num][seq], whose last 16 bytes are the
// report's sequences key.
inline constexpr size_t kKeyTimeOffset = kEncodedUint64Bytes;
inline constexpr size_t kReportKeyAgentOffset = 2 * kEncodedUint64Bytes;
inline constexpr size_t kReportKeySequenceOffset = 3 * kEncodedUint64Bytes;
inline constexpr size_t kReportKeyBytes = 4 * kEncodedUint64Bytes;
// A rollup_dirty key: [level u8][model_id][bucket_start].
inline constexpr size_t kDirtyKeyBytes = 1 + 2 * kEncodedUint64Bytes;

// Appends the header of a stored report (its record without the summary)
// to `out`, as the report_headers column family keeps it. False when
// `report` is not valid wire format.
inline bool ReportHeader(absl::string_view report, std::string* out) {
  static constexpr int kSummary[] = {v1::WindowReport::kSummaryFieldNumber};
  return CopyWithoutField(report, kSummary, out);
}

// Start of the bucket of `resolution` (aligned to the Unix epoch) holding t.
inline absl::Time AlignDown(absl::Time t, absl::Duration resolution) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return t;
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), resolution);
}

inline absl::Time AlignUp(absl::Time t, absl::Duration resolution) {
  const absl::Time down = AlignDown(t, resolution);
  return down < t ? down + resolution : down;
}

// [model_id][t]: the prefix of reports keys, and the key of rollup buckets.
inline std::string TimeKey(uint64_t model_id, absl::Time t) {
  std::string key = Uint64BigEndian(model_id);
  AppendSortableMillis(t, &key);
  return key;
}

// [level u8][model_id][bucket start]: a rollup_dirty key.
inline std::string DirtyKey(int level, uint64_t model_id, absl::Time start) {
  std::string key(1, static_cast<char>(level));
  key += TimeKey(model_id, start);
  return key;
}

// [agent_num][seq]: a sequences key (and a gaps key, by first sequence).
inline std::string SequenceKey(uint64_t agent_num, uint64_t sequence) {
  std::string key = Uint64BigEndian(agent_num);
  AppendUint64BigEndian(sequence, &key);
  return key;
}

inline std::string ModelKey(const v1::ModelRef& m) {
  return absl::StrCat("model:", m.name(), std::string(1, '\0'), m.version(),
                      std::string(1, '\0'), m.environment());
}

inline std::string ProfileKey(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), std::string(1, '\0'), m.version());
}

}  // namespace aims::collector::rocks_storage_internal

#endif  // AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_INTERNAL_H_

// Internal to LabelJoin (label_join.cc, label_join_upkeep.cc): the key
// encoding of its tables (the Storage tables kLabel*, docs/storage.md) and
// its metrics.
//   label_ids      <name>\0<env>\0<prediction_id> -> the record's key
//   label_records  <name>\0<env>\0<version>\0[window_start ms] <prediction_id>
//                  -> JoinRecord (a window's records share a prefix: the
//                  window key)
//   label_pending  <name>\0<env>\0<prediction_id> -> PendingLabel
//   label_dirty    window key -> "" (its label report must be recomputed)
//
// Thread-safety: stateless functions; Metrics as LabelJoin uses it.
#ifndef AIMS_COLLECTOR_LABELS_LABEL_JOIN_INTERNAL_H_
#define AIMS_COLLECTOR_LABELS_LABEL_JOIN_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "collector/labels/label_join.h"
#include "common/rocks/keys.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace aims::collector {

inline std::string ModelKey(absl::string_view name, absl::string_view env) {
  return absl::StrCat(name, std::string(1, '\0'), env.empty() ? "default" : env,
                      std::string(1, '\0'));
}

inline std::string WindowKey(const v1::ModelRef& model, absl::Time start) {
  // The environment as registered (PutLabelReport finds the model by it).
  std::string key =
      absl::StrCat(model.name(), std::string(1, '\0'), model.environment(),
                   std::string(1, '\0'), model.version(), std::string(1, '\0'));
  AppendSortableMillis(start, &key);
  return key;
}

// The model version and window start of a window (or record) key.
inline bool ParseWindowKey(absl::string_view key, v1::ModelRef* model,
                           absl::Time* start, size_t* window_key_bytes) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(key, absl::MaxSplits('\0', 3));
  if (parts.size() != 4 || parts[3].size() < kEncodedUint64Bytes) return false;
  model->set_name(std::string(parts[0]));
  model->set_environment(std::string(parts[1]));
  model->set_version(std::string(parts[2]));
  *start = ReadSortableMillis(parts[3], 0);
  *window_key_bytes = key.size() - parts[3].size() + kEncodedUint64Bytes;
  return true;
}

struct LabelJoin::Metrics {
  prometheus::Gauge* records = nullptr;
  prometheus::Gauge* bytes = nullptr;
  prometheus::Gauge* pending = nullptr;
  prometheus::Gauge* dirty = nullptr;
  prometheus::Counter* joins = nullptr;
  prometheus::Counter* corrections = nullptr;
  prometheus::Counter* repeated = nullptr;
  prometheus::Counter* stale = nullptr;
  prometheus::Counter* evicted_ttl = nullptr;
  prometheus::Counter* evicted_bytes = nullptr;
  prometheus::Counter* unmatched_ttl = nullptr;
  prometheus::Counter* unmatched_bytes = nullptr;
  prometheus::Counter* reports = nullptr;
  prometheus::Counter* ignored = nullptr;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_LABELS_LABEL_JOIN_INTERNAL_H_

// Window metrics: the metrics of one model over one span of time, from its
// stored reports merged across agents, with the ids of the reports they rest
// on (evidence for nonconformities). Shared by QueryService and the
// evaluator so a query and an evaluation of the same span agree.
//
// Thread-safety: stateless functions over a thread-safe Storage.
#ifndef AIMS_COLLECTOR_EVALUATION_WINDOW_METRICS_H_
#define AIMS_COLLECTOR_EVALUATION_WINDOW_METRICS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/query.pb.h"
#include "aims/v1/summary.pb.h"
#include "collector/storage/storage.h"

namespace aims::collector {

// Performance, data quality, fairness and per slice value (SliceMetrics)
// always; drift when `profile` is given. The task
// comes from the profile, else from what the summary holds.
std::vector<v1::MetricValue> MetricsOf(const v1::WindowSummary& summary,
                                       const v1::ReferenceProfile* profile,
                                       absl::Duration span);

struct WindowMetrics {
  uint64_t report_count = 0;
  // "agent_id/first-last" sequence ranges, sorted, of the reports still
  // stored raw (beyond raw retention only rollups remain).
  std::vector<std::string> report_ids;
  std::vector<v1::MetricValue> values;
  // Set when the model version has a profile but the windows were binned on
  // another (or none, or several): drift is not applicable. The windows'
  // profile id ("" none, "mixed" several) and the stored one.
  bool profile_mismatch = false;
  std::string windows_profile_id;
  std::string stored_profile_id;
};

// Reports of `model` whose window starts in [from, to), merged (from
// rollups where they cover whole buckets, as Storage::MergeReports).
absl::StatusOr<WindowMetrics> ComputeWindowMetrics(const Storage& storage,
                                                   const v1::ModelRef& model,
                                                   absl::Time from,
                                                   absl::Time to);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_WINDOW_METRICS_H_

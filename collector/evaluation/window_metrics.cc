#include "collector/evaluation/window_metrics.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/summary/metric_engine.h"
#include "common/summary/summary_merge.h"

namespace aims::collector {

std::vector<v1::MetricValue> MetricsOf(const v1::WindowSummary& s,
                                       const v1::ReferenceProfile* profile,
                                       absl::Duration span) {
  MetricOptions options;
  if (profile != nullptr && profile->task() != v1::TASK_TYPE_UNSPECIFIED) {
    options.task = profile->task();
    if (!profile->positive_class().empty())
      options.positive_class = profile->positive_class();
  } else if (s.performance().regression().n() > 0) {
    options.task = v1::TASK_TYPE_REGRESSION;
  } else if (s.performance().confusion().classes_size() > 2) {
    options.task = v1::TASK_TYPE_MULTICLASS;
  }
  std::vector<v1::MetricValue> values = PerformanceMetrics(s, options, span);
  if (profile != nullptr) {
    for (auto& v : DriftMetrics(s, *profile, options))
      values.push_back(std::move(v));
  }
  for (auto& v : DataQualityMetrics(s, profile, options))
    values.push_back(std::move(v));
  for (auto& v : FairnessMetrics(s, options)) values.push_back(std::move(v));
  for (auto& v : SliceMetrics(s, profile, options))
    values.push_back(std::move(v));
  return values;
}

absl::StatusOr<WindowMetrics> ComputeWindowMetrics(const Storage& storage,
                                                   const v1::ModelRef& model,
                                                   absl::Time from,
                                                   absl::Time to) {
  // Rollups where they cover whole buckets (as QueryMetrics reads), the
  // ids of the raw reports from their keys.
  SummaryMerger merger(SummaryMerger::FeatureSketches::kDrop);
  std::vector<std::pair<std::string, uint64_t>> ids;
  MergeStats stats;
  stats.report_ids = &ids;
  if (absl::Status s = storage.MergeReports(model, from, to, &merger, &stats);
      !s.ok()) {
    return s;
  }
  std::map<std::string, std::set<uint64_t>> sequences;
  for (const auto& [agent, sequence] : ids) sequences[agent].insert(sequence);
  WindowMetrics out;
  out.report_count = merger.count();
  for (const auto& [agent, seqs] : sequences) {
    auto it = seqs.begin();
    while (it != seqs.end()) {
      const uint64_t first = *it;
      uint64_t last = first;
      for (++it; it != seqs.end() && *it == last + 1; ++it) last = *it;
      out.report_ids.push_back(
          first == last ? absl::StrCat(agent, "/", first)
                        : absl::StrCat(agent, "/", first, "-", last));
    }
  }
  absl::StatusOr<v1::ReferenceProfile> profile = storage.GetProfile(model);
  if (profile.ok() && merger.count() > 0 &&
      merger.result().profile_id() != profile->profile_id()) {
    out.profile_mismatch = true;
    out.windows_profile_id = merger.result().profile_id() == kMixedProfiles
                                 ? "mixed"
                                 : merger.result().profile_id();
    out.stored_profile_id = profile->profile_id();
  }
  out.values =
      MetricsOf(merger.result(), profile.ok() ? &*profile : nullptr, to - from);
  return out;
}

}  // namespace aims::collector

// SummaryMerger: merges window summaries (of many agents, many windows) into
// the summary of their union. Merging is associative and commutative: the
// result does not depend on the order of Add() calls, except that features,
// attributes, groups and classes come out sorted by name.
//
// Binned histograms merge only between summaries of the same profile; when
// profiles differ the merged summary has profile_id kMixedProfiles and no
// histograms (every other part still merges).
//
// Thread-safety: not thread-safe.
#ifndef AIMS_COMMON_SUMMARY_SUMMARY_MERGE_H_
#define AIMS_COMMON_SUMMARY_SUMMARY_MERGE_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "aims/v1/summary.pb.h"

namespace aims {

inline constexpr absl::string_view kMixedProfiles = "__mixed__";

class SummaryMerger {
 public:
  // Whether the merged summary keeps the per-feature quantile sketches.
  // Metrics (common/summary/metric_engine.h) do not use them, and they are most
  // of a summary's bytes: mergers for metrics drop them, and storage that reads
  // feature_sketches() need not even parse them.
  enum class FeatureSketches { kKeep, kDrop };

  explicit SummaryMerger(FeatureSketches sketches = FeatureSketches::kKeep)
      : sketches_(sketches) {}

  // Adds one summary, merging in place. Fails when a part cannot merge,
  // e.g. sketches of different accuracy or histograms of one profile with
  // different lengths; the result is then partly merged and the merger
  // must be discarded (every caller stops at the first error). Copying
  // the result for each Add to keep it intact cost a fifth of a query.
  // `reports` is how many window reports `summary` already merges (a
  // rollup of many windows); count() sums it.
  absl::Status Add(const v1::WindowSummary& summary, size_t reports = 1);
  size_t count() const { return count_; }
  const v1::WindowSummary& result() const { return result_; }
  FeatureSketches feature_sketches() const { return sketches_; }

 private:
  void DropFeatureSketches();

  FeatureSketches sketches_;
  size_t count_ = 0;
  v1::WindowSummary result_;
};

// Convenience: merge `from` into `into` as if both had been Add()ed.
absl::Status MergeSummaries(v1::WindowSummary* into,
                            const v1::WindowSummary& from);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_SUMMARY_MERGE_H_

// Metric engine: turns a (merged) window summary into metric values -
// performance, drift per feature and fairness per sensitive attribute - with
// sample sizes, confidence intervals, p-values and an explicit evidence state.
// The formulas are defined in docs/metrics.md; agent and collector both use
// this one implementation.
//
// Evidence: a value computed from fewer samples than its minimum is
// EVIDENCE_STATE_INSUFFICIENT with value NaN (never a number that looks
// valid); one that does not apply (no labels, zero denominator, no profile) is
// EVIDENCE_STATE_NOT_APPLICABLE with value NaN.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_SUMMARY_METRIC_ENGINE_H_
#define AIMS_COMMON_SUMMARY_METRIC_ENGINE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/query.pb.h"
#include "aims/v1/summary.pb.h"

namespace aims {

struct MetricOptions {
  v1::TaskType task = v1::TASK_TYPE_BINARY;
  std::string positive_class = "1";
  // Labelled events needed for performance metrics.
  uint64_t min_labelled = 30;
  // Events (current window) needed for a feature's drift.
  uint64_t min_drift_samples = 30;
  // Events a group needs to take part in fairness metrics.
  uint64_t min_group_size = 30;
  // Drift tests: significance and multiple-testing correction.
  double alpha = 0.05;
  enum class Correction { kNone, kBonferroni, kBenjaminiHochberg };
  Correction correction = Correction::kBenjaminiHochberg;
  // PSI smoothing of empty bins (on proportions).
  double psi_epsilon = 1e-4;
};

// Accuracy, precision/recall/F1 (binary for the positive class; macro, micro
// and weighted), ROC AUC (binary, needs score histograms), log loss, Brier,
// MAE/RMSE/MAPE/R^2 (regression), error rate, latency p50/p90/p99 and
// throughput (events per second of `span`).
std::vector<v1::MetricValue> PerformanceMetrics(
    const v1::WindowSummary& summary, const MetricOptions& options,
    absl::Duration span);

// Per feature on the reference profile's bins: psi, js_distance, hellinger,
// wasserstein_norm (numeric), ks_statistic (numeric, p_value) and
// chi_squared (p_value); then drifted_feature_share over the features with a
// test p-value after the configured correction. Needs summary.profile_id ==
// profile.profile_id.
std::vector<v1::MetricValue> DriftMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile& profile,
                                          const MetricOptions& options);

// Per attribute: selection_rate, true_positive_rate, false_positive_rate and
// precision per group (Wilson intervals), then demographic_parity_difference
// and _ratio, equal_opportunity_difference, equalized_odds_difference and
// predictive_parity_difference over the groups with at least min_group_size
// events (differences with Newcombe intervals between the extreme groups).
std::vector<v1::MetricValue> FairnessMetrics(const v1::WindowSummary& summary,
                                             const MetricOptions& options);

// The drift distances on two histograms of the same bins (exposed for tests
// and the oracle): counts include under/overflow or the "other" bin.
struct Distances {
  double psi = 0;
  double js_distance = 0;
  double hellinger = 0;
  double chi_squared = 0;
  double chi_squared_p = 1;
  double ks_statistic = 0;
  double ks_p = 1;
  double wasserstein = 0;  // not normalised; needs bin positions
};
Distances CompareHistograms(const std::vector<double>& reference,
                            const std::vector<double>& current,
                            const std::vector<double>& positions,
                            double psi_epsilon);

// Representative value of each bin of numeric `edges` (inner bins: their
// midpoint; underflow: the first edge; overflow: the last edge).
std::vector<double> BinPositions(const std::vector<double>& edges);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_METRIC_ENGINE_H_

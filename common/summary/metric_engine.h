// Metric engine: turns a (merged) window summary into metric values -
// performance, drift and data quality per feature, and fairness per
// sensitive attribute - with
// sample sizes, confidence intervals, p-values and an explicit evidence state.
// The formulas are defined in docs/metrics.md; agent and collector both use
// this one implementation (performance_metrics.cc, drift_metrics.cc,
// data_quality_metrics.cc, fairness_metrics.cc).
//
// Sample size: every value's sample_size is the count its estimate is
// computed from (labelled events for accuracy, labelled positives for a
// recall or true-positive rate, labelled negatives for a false-positive
// rate, predicted positives for precision, the group's events for a
// selection rate, the smaller of the two compared groups' counts for a gap or
// ratio, the window's values of the feature for a drift distance), and the
// minimums of MetricOptions apply to that count: a rate from one labelled
// positive is not a rate.
//
// Evidence: a value computed from fewer samples than its minimum is
// EVIDENCE_STATE_INSUFFICIENT with value NaN (never a number that looks
// valid); one that does not apply (no labels, zero denominator, no profile) is
// EVIDENCE_STATE_NOT_APPLICABLE with value NaN.
//
// Intervals (95 %): Wilson for proportions, Newcombe for gaps between groups;
// drift distances' intervals account for sampling error and small-sample
// bias (common/summary/sampling_error.h, common/summary/wasserstein.h), and
// carry reference_size and bins for it.
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
  // Performance metrics: the count each is computed from (labelled events;
  // labelled positives for recall, predicted positives for precision, the
  // smaller class for ROC AUC) must reach it.
  uint64_t min_labelled = 30;
  // Events (current window) needed for a feature's drift.
  uint64_t min_drift_samples = 30;
  // Fairness: the count each group's rate is computed from (events for the
  // selection rate, labelled positives for TPR, labelled negatives for FPR,
  // labelled predicted positives for precision) must reach it for the rate
  // and for the group to take part in that rate's gaps.
  uint64_t min_group_size = 30;
  // Data quality: the count each rate is computed from must reach it.
  uint64_t min_quality_samples = 30;
  // drifted_feature_share: a feature is drifted when the low end of its
  // PSI's 95 % interval exceeds this effect.
  double min_drift_effect_psi = 0.1;
  // PSI smoothing of empty bins (on proportions).
  double psi_epsilon = 1e-4;
};

// Accuracy, precision/recall/F1 (binary for the positive class; macro, micro
// and weighted), ROC AUC (binary, needs score histograms), log loss, Brier,
// MAE/RMSE/MAPE/R^2 (regression), error rate, latency p50/p90/p99,
// throughput (events per second of `span`), label_coverage (labelled /
// labelable events, Wilson) and label_delay_p50_seconds / p90 (of the labels
// joined later). Binary F1's count is TP + FP + FN, MAPE's the labels that are
// not zero.
std::vector<v1::MetricValue> PerformanceMetrics(
    const v1::WindowSummary& summary, const MetricOptions& options,
    absl::Duration span);

// Per feature on the reference profile's bins: psi, js_distance, hellinger,
// ks_statistic (numeric, with p_value), wasserstein_norm (numeric) - each
// with a 95 % interval - and chi_squared (with p_value); then
// drifted_feature_share: the share of the input features with enough values
// whose PSI is shown to exceed min_drift_effect_psi (the low end of its
// interval above it), sample_size the number of input features judged (the
// predictions' pseudo-feature kPredictionFeature is not an input). A p-value
// says whether there is any difference, which at production volumes there
// always is; the effect size says whether it matters. Needs summary.profile_id
// == profile.profile_id.
std::vector<v1::MetricValue> DriftMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile& profile,
                                          const MetricOptions& options);

// Per attribute: selection_rate, true_positive_rate, false_positive_rate and
// precision per group (Wilson intervals), then demographic_parity_difference
// and _ratio, equal_opportunity_difference, equalized_odds_difference and
// predictive_parity_difference, each over the groups with at least
// min_group_size of the compared rate's count (differences with Newcombe
// intervals between the extreme groups; equalized odds, the larger of the
// TPR and FPR gaps, from both gaps' intervals at 97.5 %).
std::vector<v1::MetricValue> FairnessMetrics(const v1::WindowSummary& summary,
                                             const MetricOptions& options);

// Per input feature (every feature of the window and, with a profile, every
// profile feature the window lacks; not the prediction), each a proportion
// with its Wilson interval over the count it can happen to: missing_rate (of
// the window's events), type_mismatch_rate (of the feature's present
// values), out_of_range_rate (numeric profile features: finite values outside
// the profile's [min, max]) and unseen_category_rate (categorical profile
// features: values of the right type not among the profile's categories).
// Then, model-level, worst_<rate>: the value with the highest rate among the
// features with evidence, with its interval and sample size. `profile` may
// be null (then only the first two rates).
std::vector<v1::MetricValue> DataQualityMetrics(
    const v1::WindowSummary& summary, const v1::ReferenceProfile* profile,
    const MetricOptions& options);

// Per slice value of each slice key (WindowSummary.slices): the
// performance metrics (not throughput, latency, labels_matched or label
// delays, which a slice does not carry) and the data-quality metrics of that
// value's events alone, each with `slice` = "key=value" and its own sample
// size, so the minimums above apply to each value's own count. "__other__"
// (values beyond the bound, together) is a value like the others.
std::vector<v1::MetricValue> SliceMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile* profile,
                                          const MetricOptions& options);

// The drift distances on two histograms of the same bins (exposed for tests
// and the oracle): counts include under/overflow or the "other" bin.
// `positions` (common/summary/wasserstein.h) place the bins for the binned
// Wasserstein sum; empty for categorical features.
struct Distances {
  // Bins compared: those not empty in both histograms (as chi-squared's
  // columns, so its degrees of freedom are bins - 1).
  uint32_t bins = 0;
  double psi = 0;
  double js_distance = 0;
  double hellinger = 0;
  double chi_squared = 0;
  double chi_squared_p = 1;
  double ks_statistic = 0;
  double ks_p = 1;
  double wasserstein = 0;  // binned sum only, not normalised
};
Distances CompareHistograms(const std::vector<double>& reference,
                            const std::vector<double>& current,
                            const std::vector<double>& positions,
                            double psi_epsilon);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_METRIC_ENGINE_H_

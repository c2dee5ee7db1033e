#include "collector/plan/metric_catalog.h"

#include <cmath>

#include "aims/v1/query.pb.h"
#include "common/summary/sampling_error.h"

namespace aims::collector {
namespace {

// Every metric an objective may name, with how it is measured (the 9.1
// "method" answer when the plan gives none).
constexpr MetricInfo kMetrics[] = {
    {"accuracy", MetricKind::kPerformance, MetricScope::kModel,
     "share of labelled predictions that are correct"},
    {"precision", MetricKind::kPerformance, MetricScope::kModel,
     "TP/(TP+FP) of the positive class"},
    {"recall", MetricKind::kPerformance, MetricScope::kModel,
     "TP/(TP+FN) of the positive class"},
    {"f1", MetricKind::kPerformance, MetricScope::kModel,
     "F1 of the positive class"},
    {"precision_macro", MetricKind::kPerformance, MetricScope::kModel,
     "unweighted mean precision over classes"},
    {"recall_macro", MetricKind::kPerformance, MetricScope::kModel,
     "unweighted mean recall over classes"},
    {"f1_macro", MetricKind::kPerformance, MetricScope::kModel,
     "unweighted mean F1 over classes"},
    {"precision_weighted", MetricKind::kPerformance, MetricScope::kModel,
     "support-weighted precision"},
    {"recall_weighted", MetricKind::kPerformance, MetricScope::kModel,
     "support-weighted recall"},
    {"f1_weighted", MetricKind::kPerformance, MetricScope::kModel,
     "support-weighted F1"},
    {"f1_micro", MetricKind::kPerformance, MetricScope::kModel,
     "micro-averaged F1"},
    {"roc_auc", MetricKind::kPerformance, MetricScope::kModel,
     "ROC AUC on score histograms by label"},
    {"log_loss", MetricKind::kPerformance, MetricScope::kModel,
     "mean negative log-likelihood of the true class"},
    {"brier", MetricKind::kPerformance, MetricScope::kModel,
     "mean squared error of predicted probabilities"},
    {"mae", MetricKind::kPerformance, MetricScope::kModel,
     "mean absolute error"},
    {"rmse", MetricKind::kPerformance, MetricScope::kModel,
     "root mean squared error"},
    {"mape", MetricKind::kPerformance, MetricScope::kModel,
     "mean absolute percentage error"},
    {"r2", MetricKind::kPerformance, MetricScope::kModel,
     "coefficient of determination"},
    {"error_rate", MetricKind::kOperational, MetricScope::kModel,
     "share of events flagged as errors"},
    {"throughput", MetricKind::kOperational, MetricScope::kModel,
     "events per second"},
    {"latency_p50", MetricKind::kOperational, MetricScope::kModel,
     "median latency (DDSketch, 1% relative error)"},
    {"latency_p90", MetricKind::kOperational, MetricScope::kModel,
     "90th percentile latency (DDSketch)"},
    {"latency_p99", MetricKind::kOperational, MetricScope::kModel,
     "99th percentile latency (DDSketch)"},
    {"labels_matched", MetricKind::kOperational, MetricScope::kModel,
     "delayed labels joined to predictions"},
    {"label_coverage", MetricKind::kOperational, MetricScope::kModel,
     "labelled predictions / predictions of the window (labels credited to "
     "the prediction's window), Wilson CI"},
    {"label_delay_p50_seconds", MetricKind::kOperational, MetricScope::kModel,
     "median delay from prediction to label (DDSketch)"},
    {"label_delay_p90_seconds", MetricKind::kOperational, MetricScope::kModel,
     "90th percentile delay from prediction to label (DDSketch)"},
    {"drifted_feature_share", MetricKind::kDrift, MetricScope::kModel,
     "share of features whose PSI is shown above the minimum effect (the "
     "low end of its 95 % interval above 0.1)"},
    {"psi", MetricKind::kDrift, MetricScope::kFeature,
     "population stability index on reference bins"},
    {"js_distance", MetricKind::kDrift, MetricScope::kFeature,
     "Jensen-Shannon distance (base 2) on reference bins"},
    {"hellinger", MetricKind::kDrift, MetricScope::kFeature,
     "Hellinger distance on reference bins"},
    {"chi_squared", MetricKind::kDrift, MetricScope::kFeature,
     "Pearson chi-squared statistic on reference bins"},
    {"ks_statistic", MetricKind::kDrift, MetricScope::kFeature,
     "Kolmogorov-Smirnov statistic on reference bins"},
    {"wasserstein_norm", MetricKind::kDrift, MetricScope::kFeature,
     "Wasserstein-1 distance on reference bins divided by the reference "
     "standard deviation"},
    {"missing_rate", MetricKind::kDataQuality, MetricScope::kFeature,
     "events without the feature / events, Wilson CI"},
    {"type_mismatch_rate", MetricKind::kDataQuality, MetricScope::kFeature,
     "values of the wrong JSON type / values present, Wilson CI"},
    {"out_of_range_rate", MetricKind::kDataQuality, MetricScope::kFeature,
     "numeric values outside the profile's [min, max] / finite values, "
     "Wilson CI"},
    {"unseen_category_rate", MetricKind::kDataQuality, MetricScope::kFeature,
     "categories not in the profile / categorical values, Wilson CI"},
    {"worst_missing_rate", MetricKind::kDataQuality, MetricScope::kModel,
     "highest missing_rate over the features with evidence"},
    {"worst_type_mismatch_rate", MetricKind::kDataQuality, MetricScope::kModel,
     "highest type_mismatch_rate over the features with evidence"},
    {"worst_out_of_range_rate", MetricKind::kDataQuality, MetricScope::kModel,
     "highest out_of_range_rate over the features with evidence"},
    {"worst_unseen_category_rate", MetricKind::kDataQuality,
     MetricScope::kModel,
     "highest unseen_category_rate over the features with evidence"},
    {"selection_rate", MetricKind::kFairness, MetricScope::kGroup,
     "predicted positive / events in the group, Wilson CI"},
    {"true_positive_rate", MetricKind::kFairness, MetricScope::kGroup,
     "TP/(TP+FN) in the group, Wilson CI"},
    {"false_positive_rate", MetricKind::kFairness, MetricScope::kGroup,
     "FP/(FP+TN) in the group, Wilson CI"},
    {"demographic_parity_difference", MetricKind::kFairness,
     MetricScope::kAttribute,
     "max - min selection rate over groups with enough events, Newcombe CI"},
    {"demographic_parity_ratio", MetricKind::kFairness, MetricScope::kAttribute,
     "min / max selection rate over groups with enough events (disparate "
     "impact)"},
    {"equal_opportunity_difference", MetricKind::kFairness,
     MetricScope::kAttribute,
     "max - min true positive rate over groups, Newcombe CI"},
    {"equalized_odds_difference", MetricKind::kFairness,
     MetricScope::kAttribute, "larger of the TPR and FPR gaps over groups"},
    {"predictive_parity_difference", MetricKind::kFairness,
     MetricScope::kAttribute, "max - min precision over groups, Newcombe CI"},
    {"model_silence_seconds", MetricKind::kCoverage, MetricScope::kModel,
     "seconds since any agent of the model last reported"},
    {"agent_silence_seconds", MetricKind::kCoverage, MetricScope::kAgent,
     "seconds since the agent last reported (agents seen within the window)"},
    {"missing_windows", MetricKind::kCoverage, MetricScope::kModel,
     "windows agents declared lost (spool full) that ended within the window"},
    {"profile_present", MetricKind::kCoverage, MetricScope::kModel,
     "1 when the model version has a reference profile, else 0"},
};

}  // namespace

const MetricInfo* FindMetric(absl::string_view name) {
  for (const MetricInfo& m : kMetrics) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

std::vector<std::string> MetricNames() {
  std::vector<std::string> names;
  for (const MetricInfo& m : kMetrics) names.push_back(m.name);
  return names;
}

double SamplingErrorAt(absl::string_view metric, double at) {
  // Asked of sampling_error.h with sizes set, so that its list is the one
  // source of truth.
  v1::MetricValue probe;
  probe.set_metric(std::string(metric));
  probe.set_sample_size(1000);
  probe.set_reference_size(1000);
  probe.set_bins(10);
  return StandardErrorAt(probe, at);
}

bool HasSamplingModel(absl::string_view metric) {
  return std::isfinite(SamplingErrorAt(metric, 0.1));
}

std::vector<std::string> SequentialMetricNames() {
  std::vector<std::string> names;
  for (const MetricInfo& m : kMetrics) {
    if (HasSamplingModel(m.name)) names.push_back(m.name);
  }
  return names;
}

Decision DefaultDecision(const MetricInfo& info) {
  if (HasSamplingModel(info.name)) return Decision::kSequential;
  if (info.kind == MetricKind::kOperational ||
      info.kind == MetricKind::kCoverage) {
    return Decision::kPoint;
  }
  return Decision::kInterval;
}

uint64_t DefaultMinSamples(const MetricInfo& info) {
  return info.kind == MetricKind::kPerformance ||
                 info.kind == MetricKind::kFairness ||
                 info.kind == MetricKind::kDataQuality
             ? kDefaultMinSamples
             : 0;
}

}  // namespace aims::collector

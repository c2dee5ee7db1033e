#include "collector/plan/metric_catalog.h"

namespace aims::collector {
namespace {

// Every metric an objective may name, with how it is measured (the 9.1
// "method" answer when the plan gives none).
constexpr MetricInfo kMetrics[] = {
    {"accuracy", MetricScope::kModel,
     "share of labelled predictions that are correct"},
    {"precision", MetricScope::kModel, "TP/(TP+FP) of the positive class"},
    {"recall", MetricScope::kModel, "TP/(TP+FN) of the positive class"},
    {"f1", MetricScope::kModel, "F1 of the positive class"},
    {"precision_macro", MetricScope::kModel,
     "unweighted mean precision over classes"},
    {"recall_macro", MetricScope::kModel,
     "unweighted mean recall over classes"},
    {"f1_macro", MetricScope::kModel, "unweighted mean F1 over classes"},
    {"precision_weighted", MetricScope::kModel, "support-weighted precision"},
    {"recall_weighted", MetricScope::kModel, "support-weighted recall"},
    {"f1_weighted", MetricScope::kModel, "support-weighted F1"},
    {"f1_micro", MetricScope::kModel, "micro-averaged F1"},
    {"roc_auc", MetricScope::kModel, "ROC AUC on score histograms by label"},
    {"log_loss", MetricScope::kModel,
     "mean negative log-likelihood of the true class"},
    {"brier", MetricScope::kModel,
     "mean squared error of predicted probabilities"},
    {"mae", MetricScope::kModel, "mean absolute error"},
    {"rmse", MetricScope::kModel, "root mean squared error"},
    {"mape", MetricScope::kModel, "mean absolute percentage error"},
    {"r2", MetricScope::kModel, "coefficient of determination"},
    {"error_rate", MetricScope::kModel, "share of events flagged as errors"},
    {"throughput", MetricScope::kModel, "events per second"},
    {"latency_p50", MetricScope::kModel,
     "median latency (DDSketch, 1% relative error)"},
    {"latency_p90", MetricScope::kModel, "90th percentile latency (DDSketch)"},
    {"latency_p99", MetricScope::kModel, "99th percentile latency (DDSketch)"},
    {"labels_matched", MetricScope::kModel,
     "delayed labels joined to predictions"},
    {"drifted_feature_share", MetricScope::kModel,
     "share of features whose KS / chi-squared test rejects at alpha 0.05 "
     "after "
     "Benjamini-Hochberg correction"},
    {"psi", MetricScope::kFeature,
     "population stability index on reference bins"},
    {"js_distance", MetricScope::kFeature,
     "Jensen-Shannon distance (base 2) on reference bins"},
    {"hellinger", MetricScope::kFeature,
     "Hellinger distance on reference bins"},
    {"chi_squared", MetricScope::kFeature,
     "Pearson chi-squared statistic on reference bins"},
    {"ks_statistic", MetricScope::kFeature,
     "Kolmogorov-Smirnov statistic on reference bins"},
    {"wasserstein_norm", MetricScope::kFeature,
     "Wasserstein-1 distance on reference bins divided by the reference "
     "standard deviation"},
    {"selection_rate", MetricScope::kGroup,
     "predicted positive / events in the group, Wilson CI"},
    {"true_positive_rate", MetricScope::kGroup,
     "TP/(TP+FN) in the group, Wilson CI"},
    {"false_positive_rate", MetricScope::kGroup,
     "FP/(FP+TN) in the group, Wilson CI"},
    {"demographic_parity_difference", MetricScope::kAttribute,
     "max - min selection rate over groups with enough events, Newcombe CI"},
    {"demographic_parity_ratio", MetricScope::kAttribute,
     "min / max selection rate over groups with enough events (disparate "
     "impact)"},
    {"equal_opportunity_difference", MetricScope::kAttribute,
     "max - min true positive rate over groups, Newcombe CI"},
    {"equalized_odds_difference", MetricScope::kAttribute,
     "larger of the TPR and FPR gaps over groups"},
    {"predictive_parity_difference", MetricScope::kAttribute,
     "max - min precision over groups, Newcombe CI"},
    {"model_silence_seconds", MetricScope::kModel,
     "seconds since any agent of the model last reported"},
    {"agent_silence_seconds", MetricScope::kAgent,
     "seconds since the agent last reported (agents seen within the window)"},
    {"missing_windows", MetricScope::kModel,
     "windows agents declared lost (spool full) that ended within the window"},
    {"profile_present", MetricScope::kModel,
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

}  // namespace aims::collector

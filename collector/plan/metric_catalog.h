// The metrics an objective may name (docs/metrics.md): each one's kind,
// which decides an objective's defaults (decision, min_samples), its scope,
// which decides its series, and how it is measured, the 9.1 "method" answer
// when a plan gives none.
//
// Thread-safety: constant data.
#ifndef AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_
#define AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "collector/plan/plan.h"

namespace aims::collector {

// What a metric tells about the model.
enum class MetricKind {
  kPerformance,  // against labels (accuracy, f1, mae, ...)
  kFairness,     // between groups of a sensitive attribute
  kDrift,        // inputs against the reference profile
  kDataQuality,  // missing, wrong-type, out-of-range, unseen input values
  kOperational,  // error rate, throughput, latency, labels matched
  kCoverage,     // built-in: silence, lost windows, profile present
};

struct MetricInfo {
  const char* name;
  MetricKind kind;
  MetricScope scope;
  const char* method;
};

// Null for a name no engine computes.
const MetricInfo* FindMetric(absl::string_view name);

// Every metric's name, in catalogue order.
std::vector<std::string> MetricNames();

// True when the metric's estimate has a sampling model
// (common/summary/sampling_error.h), which a sequential decision needs.
bool HasSamplingModel(absl::string_view metric);
// The standard error an estimate of `metric` from 1000 values (and a
// reference of 1000 on 10 bins) would have at the true value `at`; NaN
// without a sampling model.
double SamplingErrorAt(absl::string_view metric, double at);
// The names of those metrics, in catalogue order.
std::vector<std::string> SequentialMetricNames();

// The decision an objective on `info` takes when its plan names none:
// sequential where the metric has a sampling model, point for operational
// and coverage metrics, interval otherwise.
Decision DefaultDecision(const MetricInfo& info);

// The min_samples an objective on `info` takes when its plan names none:
// kDefaultMinSamples for performance, fairness and data-quality metrics,
// else 0.
inline constexpr uint64_t kDefaultMinSamples = 30;
uint64_t DefaultMinSamples(const MetricInfo& info);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_

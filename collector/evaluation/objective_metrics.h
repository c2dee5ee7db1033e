// Prometheus exposition of the monitoring plan's evaluation: for every
// objective series its last metric value with the full statistic (value,
// threshold, confidence interval, p-value, sample size) and its state, so
// SREs can graph and alert on what the compliance side judges.
//
//   aims_objective_value{objective, model, model_version, environment,
//                        metric, feature, attribute, group, slice}
//   aims_objective_threshold, aims_objective_ci_lower, aims_objective_ci_upper,
//   aims_objective_p_value (where the metric has one),
//   aims_objective_sample_size (same labels)
//   aims_objective_state{..., state} = 1 for the series' current state
//   aims_objective_last_evaluation_timestamp_seconds
//   aims_collector_objective_series_not_exported: series left out at the
//   last scrape because of the `max_series` bound
//
// A series with insufficient evidence has no value (nor interval or
// p-value); its threshold, sample size, state "insufficient_evidence" and
// last evaluation time are exported: never a number that looks valid.
//
// Thread-safety: a pure function of its inputs.
#ifndef AIMS_COLLECTOR_EVALUATION_OBJECTIVE_METRICS_H_
#define AIMS_COLLECTOR_EVALUATION_OBJECTIVE_METRICS_H_

#include <cstddef>
#include <vector>

#include "aims/v1/nonconformity.pb.h"
#include "collector/plan/plan.h"
#include "prometheus/metric_family.h"

namespace aims::collector {

std::vector<prometheus::MetricFamily> ObjectiveMetricFamilies(
    const std::vector<v1::ObjectiveStatus>& states, const Plan* plan,
    size_t max_series);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_OBJECTIVE_METRICS_H_

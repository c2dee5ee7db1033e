// Sampling error of metric values: how far an estimate computed from a
// window's sample strays from the metric's true value. The evaluator's
// decisions (collector/evaluation) use it to judge a value against its
// threshold with the sampling error accounted for (docs/metrics.md,
// "Sampling error").
//
// Models:
//  - proportions (accuracy, error_rate, precision, recall, true/false
//    positive rate, selection_rate): binomial, se(p) = sqrt(p (1 - p) / n)
//    with n = sample_size;
//  - psi on B bins, n window values and m reference values: with
//    c = 1/n + 1/m, psi / c is close to a noncentral chi-squared variable
//    with B - 1 degrees of freedom and noncentrality psi_true / c, so
//    E[psi] = psi_true + c (B - 1) and se = sqrt(2 (B - 1) c^2 + 4 c psi_true);
//  - js_distance and hellinger: their squares are close to psi / 8 for
//    small differences, and are handled on that scale;
//  - other metrics: no model here (NaN).
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_
#define AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_

#include "aims/v1/query.pb.h"

namespace aims {

// The standard error `value`'s estimate would have if the metric's true
// value were `at`, from the value's sample sizes; NaN when the metric has no
// sampling model or the sizes are missing.
double StandardErrorAt(const v1::MetricValue& value, double at);

// What the estimate averages when the true value is 0 (nothing changed):
// the small-sample bias of a drift distance (psi: c (B - 1)); 0 for
// unbiased estimates.
double NullBias(const v1::MetricValue& value);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_

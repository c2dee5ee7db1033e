// Sampling error of metric values: how far an estimate computed from a
// window's sample strays from the metric's true value. The metric engine
// (common/summary/metric_engine.h) sets the drift distances' intervals from
// it, and the evaluator's decisions (collector/evaluation) use it to judge a
// value against its threshold with the sampling error accounted for
// (docs/metrics.md, "Sampling error").
//
// Models (n = value.sample_size(), m = value.reference_size(), B =
// value.bins(), c = 1/n + 1/m):
//  - proportions (accuracy, error_rate, precision, recall, true/false
//    positive rate, selection_rate, the data-quality rates and their
//    worst_ values): binomial, se(p) = sqrt(p (1 - p) / n) with n =
//    sample_size (the count the proportion is computed from);
//  - psi: psi / c is close to a noncentral chi-squared variable with B - 1
//    degrees of freedom and noncentrality psi_true / c (psi is close to
//    Pearson's chi-squared divergence for small differences), so
//    E[psi] = psi_true + c (B - 1) and se = sqrt(2 (B - 1) c^2 + 4 c psi_true);
//    simulated with multinomial draws (n 500, m 20000, 10 and 12 bins of
//    shifted normals) the mean agrees within 1.5 % and the sd within 3.5 %
//    for psi_true 0 to 0.05; at 0.2 the model's sd is 3.5 to 5.5 % short, as
//    psi is not quite a quadratic form once the distributions part
//    (tests/common/summary/sampling_error_test.cc);
//  - js_distance and hellinger: k d^2 is close to psi for small differences,
//    with k = 8 ln 2 for js_distance (base 2) and k = 8 for hellinger, so
//    sqrt(k / c) d is close to a noncentral chi variable (B - 1 degrees of
//    freedom, noncentrality k d_true^2 / c);
//  - ks_statistic: |D - D_true| <= kKolmogorov95 / sqrt(n m / (n + m)) in
//    95 % of windows (the two-sample Kolmogorov band); under no change D
//    averages 0.8687 / sqrt(n m / (n + m));
//  - other metrics (wasserstein_norm, whose interval the engine computes
//    from the histograms, and gaps between groups): no model here (NaN).
// The models assume independent events: a window of correlated events (one
// user's burst) varies more than they say.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_
#define AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_

#include "aims/v1/query.pb.h"
#include "common/summary/statistics.h"

namespace aims {

// The standard error `value`'s estimate would have if the metric's true
// value were `at`, from the value's sample sizes; NaN when the metric has no
// sampling model or the sizes are missing.
double StandardErrorAt(const v1::MetricValue& value, double at);

// What the estimate averages when the true value is 0 (nothing changed):
// the small-sample bias of a drift distance (psi: c (B - 1)); 0 for
// unbiased estimates and metrics without a model.
double NullBias(const v1::MetricValue& value);

// The 95 % interval of a drift distance's true value (psi, js_distance,
// hellinger: the noncentral chi-squared model inverted, so the small-sample
// bias is accounted for and the low end is 0 when the value is within
// sampling noise of no change; ks_statistic: the Kolmogorov band, clamped
// to [0, 1]); NaN bounds for other metrics or missing sizes.
Interval DistanceInterval(const v1::MetricValue& value);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_SAMPLING_ERROR_H_

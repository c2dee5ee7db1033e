#include "common/summary/sampling_error.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace aims {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean and standard deviation of the Kolmogorov distribution:
// sqrt(pi / 2) ln 2 and sqrt(pi^2 / 12 - (pi / 2) (ln 2)^2).
constexpr double kKolmogorovMean = 0.8687311606361592;
constexpr double kKolmogorovSd = 0.260332871482069;

bool IsProportion(absl::string_view metric) {
  static const auto* const kNames = new absl::flat_hash_set<absl::string_view>{
      "accuracy", "error_rate", "precision", "recall", "true_positive_rate",
      "false_positive_rate", "selection_rate", "missing_rate",
      "type_mismatch_rate", "out_of_range_rate", "unseen_category_rate",
      // The worst feature's rate, judged as its own proportion: biased up
      // when many features sit just under the threshold (docs/metrics.md).
      "worst_missing_rate", "worst_type_mismatch_rate",
      "worst_out_of_range_rate", "worst_unseen_category_rate"};
  return kNames->contains(metric);
}

// c = 1/n + 1/m of a drift distance, or NaN without both sizes.
double DriftScale(const v1::MetricValue& v) {
  if (v.sample_size() == 0 || v.reference_size() == 0 || v.bins() < 2) {
    return kNaN;
  }
  return 1.0 / static_cast<double>(v.sample_size()) +
         1.0 / static_cast<double>(v.reference_size());
}

// k with k d^2 ~ psi for a root-divergence distance d, or 0.
double SquareScale(absl::string_view metric) {
  if (metric == "js_distance") return 8 * M_LN2;  // JS in bits
  if (metric == "hellinger") return 8;
  return 0;
}

// se of psi when its true value is `psi`.
double PsiStandardError(double c, double dof, double psi) {
  return std::sqrt(2 * dof * c * c + 4 * c * std::max(0.0, psi));
}

// E[chi_k], the mean of a central chi variable with k degrees of freedom.
double ChiMean(double k) {
  return M_SQRT2 * std::exp(std::lgamma((k + 1) / 2) - std::lgamma(k / 2));
}

struct MeanSd {
  double mean;
  double sd;
};

// Mean and sd of a noncentral chi variable (the square root of a noncentral
// chi-squared(dof, lambda) one): the Poisson(lambda / 2) mixture of central
// chi means up to lambda 100, the second-order expansion beyond (within
// 0.3 % there).
MeanSd NoncentralChi(double dof, double lambda) {
  if (lambda > 100) {
    const double s = dof + lambda;
    return {std::sqrt(s) - (2 * dof + 4 * lambda) / (8 * s * std::sqrt(s)),
            std::sqrt((dof + 2 * lambda) / (2 * s))};
  }
  const double mu = lambda / 2;
  double w = std::exp(-mu), mean = 0;
  const double last = mu + 12 * std::sqrt(mu) + 20;
  for (double j = 0; j <= last; ++j) {
    mean += w * ChiMean(dof + 2 * j);
    w *= mu / (j + 1);
  }
  return {mean, std::sqrt(std::max(0.0, dof + lambda - mean * mean))};
}

}  // namespace

double StandardErrorAt(const v1::MetricValue& value, double at) {
  const absl::string_view metric = value.metric();
  if (IsProportion(metric)) {
    if (value.sample_size() == 0) return kNaN;
    const double p = std::clamp(at, 0.0, 1.0);
    return std::sqrt(p * (1 - p) / static_cast<double>(value.sample_size()));
  }
  const double c = DriftScale(value);
  if (std::isnan(c)) return kNaN;
  const double dof = value.bins() - 1.0;
  if (metric == "psi") return PsiStandardError(c, dof, at);
  if (const double k = SquareScale(metric); k > 0) {
    const double d = std::max(0.0, at);
    return std::sqrt(c / k) * NoncentralChi(dof, k * d * d / c).sd;
  }
  if (metric == "ks_statistic") {
    // At no change, the Kolmogorov law's spread; beyond, the binomial
    // spread of the two CDFs at the maximum, at most 1/2 each.
    return std::sqrt(c) * (at > 0 ? 0.5 : kKolmogorovSd);
  }
  return kNaN;
}

double NullBias(const v1::MetricValue& value) {
  const double c = DriftScale(value);
  if (std::isnan(c)) return 0;
  const double dof = value.bins() - 1.0;
  if (value.metric() == "psi") return c * dof;
  if (const double k = SquareScale(value.metric()); k > 0) {
    return std::sqrt(c / k) * ChiMean(dof);
  }
  if (value.metric() == "ks_statistic") return std::sqrt(c) * kKolmogorovMean;
  return 0;
}

Interval DistanceInterval(const v1::MetricValue& value) {
  const double c = DriftScale(value);
  const double v = value.value();
  if (std::isnan(c) || !std::isfinite(v)) return {kNaN, kNaN};
  const double dof = value.bins() - 1.0;
  if (value.metric() == "psi") {
    const Interval lambda = NoncentralityInterval(std::max(0.0, v) / c, dof);
    return {c * lambda.low, c * lambda.high};
  }
  if (const double k = SquareScale(value.metric()); k > 0) {
    const Interval lambda = NoncentralityInterval(k * v * v / c, dof);
    return {std::sqrt(c * lambda.low / k), std::sqrt(c * lambda.high / k)};
  }
  if (value.metric() == "ks_statistic") {
    const double band = kKolmogorov95 * std::sqrt(c);
    return {std::max(0.0, v - band), std::min(1.0, v + band)};
  }
  return {kNaN, kNaN};
}

}  // namespace aims

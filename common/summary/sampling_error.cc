#include "common/summary/sampling_error.h"

#include <cmath>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace aims {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool IsProportion(absl::string_view metric) {
  static const auto* const kNames = new absl::flat_hash_set<absl::string_view>{
      "accuracy",        "error_rate",         "precision",
      "recall",          "true_positive_rate", "false_positive_rate",
      "selection_rate"};
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

// se of psi when its true value is `psi`.
double PsiStandardError(double c, double dof, double psi) {
  return std::sqrt(2 * dof * c * c + 4 * c * std::max(0.0, psi));
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
  if (metric == "js_distance" || metric == "hellinger") {
    // d^2 ~ psi / 8: se(d^2) = se(psi at 8 d^2) / 8, and se(d) by the delta
    // method, floored at the null spread of d (whose derivative vanishes
    // at 0).
    const double d = std::max(0.0, at);
    const double se_squared = PsiStandardError(c, dof, 8 * d * d) / 8;
    const double null_spread = std::sqrt(se_squared);
    if (d == 0) return null_spread;
    return std::max(se_squared / (2 * d), std::sqrt(c * dof / 8) * 0.5);
  }
  return kNaN;
}

double NullBias(const v1::MetricValue& value) {
  const double c = DriftScale(value);
  if (std::isnan(c)) return 0;
  const double dof = value.bins() - 1.0;
  if (value.metric() == "psi") return c * dof;
  if (value.metric() == "js_distance" || value.metric() == "hellinger") {
    return std::sqrt(c * dof / 8);
  }
  return 0;
}

}  // namespace aims

#include "collector/evaluation/sequential_test.h"

#include <algorithm>
#include <cmath>

namespace aims::collector {

double CusumRunLength(double h, double k) {
  const double a = 2 * k * (h + 1.166);
  return (std::exp(a) - a - 1) / (2 * k * k);
}

double CusumThreshold(double run_length, double k) {
  if (!(run_length > CusumRunLength(0, k))) return 0;
  double lo = 0;
  double hi = 1;
  while (CusumRunLength(hi, k) < run_length && hi < 1e6) hi *= 2;
  while (hi - lo > 1e-9) {
    const double mid = (lo + hi) / 2;
    (CusumRunLength(mid, k) < run_length ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double BudgetRunLength(absl::Duration period, absl::Duration step, int series) {
  if (step <= absl::ZeroDuration()) return 0;
  return absl::FDivDuration(period, step) * std::max(1, series);
}

double CusumStep(double s, double z, double h, double k) {
  return std::min(2 * h, std::max(0.0, s + z - k));
}

CusumSignal CusumSignalOf(double s, double h) {
  if (s > h) return CusumSignal::kBreach;
  if (s > h / 2) return CusumSignal::kPossible;
  return CusumSignal::kNone;
}

}  // namespace aims::collector

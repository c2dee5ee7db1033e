#include "common/summary/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace aims {
namespace {

// Regularized lower incomplete gamma P(a, x) by its series (x < a + 1).
double GammaSeries(double a, double x) {
  double sum = 1.0 / a, term = sum;
  for (int n = 1; n < 1000; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * 1e-16) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Regularized upper incomplete gamma Q(a, x) by Lentz's continued fraction
// (x >= a + 1).
double GammaContinuedFraction(double a, double x) {
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

double ChiSquaredSurvival(double x, double dof) {
  if (!(dof > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (x <= 0) return 1.0;
  const double a = dof / 2, y = x / 2;
  return y < a + 1 ? 1.0 - GammaSeries(a, y) : GammaContinuedFraction(a, y);
}

double KolmogorovSurvival(double x) {
  if (x <= 0) return 1.0;
  if (x < 1.18) {
    // Small x: the complementary theta series converges fast.
    // P(K <= x) = sqrt(2 pi)/x * sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2)).
    const double w = std::sqrt(2 * M_PI) / x;
    const double f = -M_PI * M_PI / (8 * x * x);
    double cdf = 0;
    for (int k = 1; k < 100; ++k) {
      const double term = std::exp(f * (2 * k - 1) * (2 * k - 1));
      cdf += term;
      if (term < 1e-17) break;
    }
    return 1.0 - w * cdf;
  }
  // P(K > x) = 2 sum_{k>=1} (-1)^{k-1} exp(-2 k^2 x^2).
  double sum = 0;
  for (int k = 1; k < 100; ++k) {
    const double term = std::exp(-2.0 * k * k * x * x);
    sum += (k % 2 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return std::clamp(2 * sum, 0.0, 1.0);
}

Interval WilsonInterval(uint64_t successes, uint64_t n, double z) {
  if (n == 0) {
    return {std::numeric_limits<double>::quiet_NaN(),
            std::numeric_limits<double>::quiet_NaN()};
  }
  const double nn = static_cast<double>(n);
  const double p = successes / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half =
      z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval NewcombeDifference(double p1, Interval ci1, double p2, Interval ci2) {
  const double d = p1 - p2;
  return {d - std::sqrt((p1 - ci1.low) * (p1 - ci1.low) +
                        (ci2.high - p2) * (ci2.high - p2)),
          d + std::sqrt((ci1.high - p1) * (ci1.high - p1) +
                        (p2 - ci2.low) * (p2 - ci2.low))};
}

std::vector<double> BonferroniAdjust(const std::vector<double>& p) {
  std::vector<double> out;
  for (double v : p) out.push_back(std::min(1.0, v * p.size()));
  return out;
}

std::vector<double> BenjaminiHochbergAdjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 1.0;
  for (size_t i = m; i-- > 0;) {
    const double adjusted = p[order[i]] * m / (i + 1);
    running = std::min(running, adjusted);
    out[order[i]] = std::min(1.0, running);
  }
  return out;
}

}  // namespace aims

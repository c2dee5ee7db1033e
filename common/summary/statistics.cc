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

// Regularized lower incomplete gamma P(a, y).
double LowerGamma(double a, double y) {
  if (y <= 0) return 0.0;
  return y < a + 1 ? GammaSeries(a, y) : 1.0 - GammaContinuedFraction(a, y);
}

// Noncentral chi-squared CDF as the Poisson(lambda / 2) mixture of central
// chi-squared(dof + 2 j) CDFs, summed from the mixture's mode outwards with
// P(a + 1, y) = P(a, y) - y^a e^-y / Gamma(a + 1): one incomplete gamma per
// call.
double PoissonMixtureCdf(double x, double dof, double lambda) {
  const double a = dof / 2, y = x / 2, mu = lambda / 2;
  const double j0 = std::floor(mu);
  const double w0 = std::exp(-mu + j0 * std::log(mu) - std::lgamma(j0 + 1));
  const double p0 = LowerGamma(a + j0, y);
  // y^(a + j0) e^-y / Gamma(a + j0 + 1)
  const double t0 =
      std::exp((a + j0) * std::log(y) - y - std::lgamma(a + j0 + 1));
  double sum = w0 * p0;
  constexpr double kNegligible = 1e-17;
  double w = w0, p = p0, t = t0;
  for (double j = j0; j < j0 + 100000;) {  // upwards
    p = std::max(0.0, p - t);
    t *= y / (a + j + 1);
    ++j;
    w *= mu / j;
    sum += w * p;
    if (w < kNegligible) break;
  }
  w = w0, p = p0, t = t0;
  for (double j = j0; j > 0; --j) {  // downwards
    t *= (a + j) / y;
    p = std::min(1.0, p + t);
    w *= j / mu;
    sum += w * p;
    if (w < kNegligible) break;
  }
  return std::clamp(sum, 0.0, 1.0);
}

// Sankaran's (1963) normal approximation of the noncentral chi-squared CDF,
// accurate to 1e-4 for lambda >= 100 (checked against scipy.stats.ncx2 for
// dof 1..1000).
double SankaranCdf(double x, double dof, double lambda) {
  const double k = dof, l = lambda;
  const double h =
      1 - 2.0 / 3 * (k + l) * (k + 3 * l) / ((k + 2 * l) * (k + 2 * l));
  const double p = (k + 2 * l) / ((k + l) * (k + l));
  const double m = (h - 1) * (1 - 3 * h);
  const double num =
      std::pow(x / (k + l), h) - (1 + h * p * (h - 1 - 0.5 * (2 - h) * m * p));
  const double den = h * std::sqrt(2 * p) * (1 + 0.5 * m * p);
  return NormalCdf(num / den);
}

}  // namespace

double NormalCdf(double z) { return 0.5 * std::erfc(-z / M_SQRT2); }

double NoncentralChiSquaredCdf(double x, double dof, double lambda) {
  if (!(dof > 0) || !(lambda >= 0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (x <= 0) return 0.0;
  if (lambda == 0) return LowerGamma(dof / 2, x / 2);
  if (lambda > 100) return SankaranCdf(x, dof, lambda);
  return PoissonMixtureCdf(x, dof, lambda);
}

Interval NoncentralityInterval(double x, double dof, double tail) {
  if (!(x > 0) || !(dof > 0)) return {0, 0};
  auto cdf = [&](double lambda) {
    return NoncentralChiSquaredCdf(x, dof, lambda);
  };
  // The CDF at x falls as lambda grows: the lambda where it crosses `level`.
  auto solve = [&](double level) {
    double lo = 0, hi = std::max(1.0, x);
    for (int i = 0; i < 200 && cdf(hi) > level; ++i) {
      lo = hi;
      hi *= 2;
    }
    for (int i = 0; i < 200 && hi - lo > 1e-10 * hi; ++i) {
      const double mid = (lo + hi) / 2;
      (cdf(mid) > level ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
  };
  const double at_zero = cdf(0);
  return {at_zero <= 1 - tail ? 0.0 : solve(1 - tail),
          at_zero <= tail ? 0.0 : solve(tail)};
}

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

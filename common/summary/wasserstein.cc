#include "common/summary/wasserstein.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace aims {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSqrt2OverPi = 0.7978845608028654;

// Mean offset from the inner edge of an exponential density on a bin of
// width w that starts at the neighbour's density h and holds mass p < h w:
// with u = lambda w, the mass fixes (1 - e^-u) / u = p / (h w), and the
// mean offset is w (1/u - 1/(e^u - 1)). Bisection: the left side falls from
// 1 to 0 as u grows, and is below 1/u.
double ExponentialOffset(double p, double h, double w) {
  const double r = p / (h * w);
  double lo = 0, hi = 1 / r;
  for (int i = 0; i < 100; ++i) {
    const double u = (lo + hi) / 2;
    (-std::expm1(-u) / u > r ? lo : hi) = u;
  }
  const double u = (lo + hi) / 2;
  return w * (1 / u - 1 / std::expm1(u));
}

// E|X| for X ~ N(d, s^2).
double FoldedMean(double d, double s) {
  if (!(s > 0)) return std::fabs(d);
  return s * kSqrt2OverPi * std::exp(-d * d / (2 * s * s)) +
         d * (1 - 2 * NormalCdf(-d / s));
}

// The `z` quantile of a gamma law of the given mean and variance
// (Wilson-Hilferty): skewed like a sum of folded normals.
double GammaQuantile(double mean, double variance, double z) {
  if (!(mean > 0) || !(variance > 0)) return std::max(0.0, mean);
  const double shape = mean * mean / variance;
  const double b = 1 - 1 / (9 * shape) + z / (3 * std::sqrt(shape));
  return mean * std::pow(std::max(0.0, b), 3);
}

}  // namespace

std::vector<double> BinPositions(const std::vector<double>& edges,
                                 const std::vector<double>& reference) {
  std::vector<double> positions;
  if (edges.empty()) return positions;
  positions.push_back(edges.front());
  for (size_t i = 1; i < edges.size(); ++i) {
    positions.push_back((edges[i - 1] + edges[i]) / 2);
  }
  positions.push_back(edges.back());
  const size_t k = edges.size();  // inner bins 1 .. k - 1
  if (reference.size() != k + 1 || k < 4) return positions;
  double total = 0;
  for (double c : reference) total += c;
  if (!(total > 0)) return positions;
  auto width = [&](size_t bin) { return edges[bin] - edges[bin - 1]; };
  // The offset of `bin`'s mean from its edge shared with `neighbour`, when
  // its density decays from the neighbour's (else its midpoint stays).
  auto tail = [&](size_t bin, size_t neighbour, double* position, double edge,
                  double direction) {
    const double p = reference[bin] / total, w = width(bin);
    const double h = reference[neighbour] / total / width(neighbour);
    if (p > 0 && h * w > p) {
      *position = edge + direction * ExponentialOffset(p, h, w);
    }
  };
  tail(k - 1, k - 2, &positions[k - 1], edges[k - 2], +1);
  tail(1, 2, &positions[1], edges[1], -1);
  return positions;
}

WassersteinEstimate BinnedWasserstein(const std::vector<double>& reference,
                                      const std::vector<double>& current,
                                      const std::vector<double>& positions,
                                      std::optional<MeanDifference> means) {
  WassersteinEstimate e;
  e.ci = {kNaN, kNaN};
  const size_t k =
      std::min({reference.size(), current.size(), positions.size()});
  double m = 0, n = 0;
  for (size_t i = 0; i < k; ++i) {
    m += reference[i];
    n += current[i];
  }
  if (!(m > 0) || !(n > 0)) return e;
  // Over the boundaries i < k - 1, with P, Q the CDFs there:
  // cov(D_i, D_j) = P_i (1 - P_j) / m + Q_i (1 - Q_j) / n for i <= j, so
  // sum_ij a_i a_j cov_ij = sum_j a_j (a_j var_j + 2 ((1 - P_j)/m A_j +
  // (1 - Q_j)/n B_j)) with A_j = sum_{i<j} a_i P_i, B_j = sum_{i<j} a_i Q_i:
  // linear in the bins.
  double cdf_r = 0, cdf_c = 0, w = 0, bias = 0, null_mean = 0;
  double se2 = 0, a_r = 0, a_c = 0;  // signed weights: the delta method
  double v0 = 0, b_r = 0, b_c = 0;   // unsigned weights: null variance
  for (size_t i = 0; i + 1 < k; ++i) {
    cdf_r += reference[i] / m;
    cdf_c += current[i] / n;
    const double dx = positions[i + 1] - positions[i];
    const double d = cdf_r - cdf_c;
    const double var = cdf_r * (1 - cdf_r) / m + cdf_c * (1 - cdf_c) / n;
    const double sd = std::sqrt(std::max(0.0, var));
    w += dx * std::fabs(d);
    bias += dx * (FoldedMean(std::fabs(d), sd) - std::fabs(d));
    null_mean += dx * kSqrt2OverPi * sd;
    const double s = d < 0 ? -dx : dx;
    se2 += s * (s * var + 2 * ((1 - cdf_r) / m * a_r + (1 - cdf_c) / n * a_c));
    a_r += s * cdf_r;
    a_c += s * cdf_c;
    v0 += dx * (dx * var + 2 * ((1 - cdf_r) / m * b_r + (1 - cdf_c) / n * b_c));
    b_r += dx * cdf_r;
    b_c += dx * cdf_c;
  }
  const double se = std::sqrt(std::max(0.0, se2));
  // The folded normals' correlation is at most (1 - 2/pi) times the normals'
  // (it is convex in it, equal at 0 and 1), which bounds the null variance.
  const double null_q = GammaQuantile(null_mean, (1 - 2 / M_PI) * v0, kZ95);
  const double low = std::max(0.0, std::min(w - bias - kZ95 * se, w - null_q));
  e.value = w;
  e.ci = {low, w + kZ95 * se};
  if (means) {
    e.value = std::max(w, means->value);
    e.ci.high = std::max(w + kZ975 * se, means->value + kZ975 * means->se);
  }
  return e;
}

}  // namespace aims

#include "common/summary/wasserstein.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace aims {
namespace {

// Deciles of N(0, 1) as a profile builder places them: the minimum, the
// quantiles 0.1 .. 0.9 and the maximum, with a reference of 20,000 rows
// (10 % in each inner bin, nothing under or over).
const std::vector<double> kEdges = {-3.9,    -1.2816, -0.8416, -0.5244,
                                    -0.2533, 0,       0.2533,  0.5244,
                                    0.8416,  1.2816,  3.9};
const std::vector<double> kReference = {0,    2000, 2000, 2000, 2000, 2000,
                                        2000, 2000, 2000, 2000, 2000, 0};

TEST(BinPositionsTest, TailBinsSitWhereTheirMassIs) {
  const std::vector<double> pos = BinPositions(kEdges, kReference);
  ASSERT_EQ(pos.size(), kEdges.size() + 1);
  EXPECT_EQ(pos.front(), kEdges.front());  // underflow: its edge
  EXPECT_EQ(pos.back(), kEdges.back());    // overflow: its edge
  EXPECT_NEAR(pos[5], (kEdges[4] + kEdges[5]) / 2, 1e-12);  // inner: midpoint
  // The normal's mean above its 0.9 quantile is 1.755; the midpoint of the
  // tail bin, 2.59, was where the old estimate put it.
  EXPECT_NEAR(pos[10], 1.755, 0.05);
  EXPECT_NEAR(pos[1], -pos[10], 1e-12);
  for (size_t i = 1; i < pos.size(); ++i) EXPECT_LE(pos[i - 1], pos[i]);
  // A tail bin no sparser than its neighbour keeps its midpoint.
  std::vector<double> flat = kReference;
  flat[10] = 20000;
  EXPECT_NEAR(BinPositions(kEdges, flat)[10], (1.2816 + 3.9) / 2, 1e-12);
  // Without reference counts: midpoints.
  EXPECT_NEAR(BinPositions(kEdges, {})[10], (1.2816 + 3.9) / 2, 1e-12);
}

TEST(BinnedWassersteinTest, IdenticalHistogramsAndTheMeansFloor) {
  const std::vector<double> pos = BinPositions(kEdges, kReference);
  const WassersteinEstimate same =
      BinnedWasserstein(kReference, kReference, pos, std::nullopt);
  EXPECT_EQ(same.value, 0.0);
  EXPECT_EQ(same.ci.low, 0.0);
  EXPECT_GT(same.ci.high, 0.0);
  // The exact means' difference bounds the distance from below.
  const WassersteinEstimate floored =
      BinnedWasserstein(kReference, kReference, pos, MeanDifference{0.3, 0.01});
  EXPECT_EQ(floored.value, 0.3);
  EXPECT_GE(floored.ci.high, 0.3 + 2 * 0.01);
  EXPECT_EQ(floored.ci.low, 0.0);  // the bins show nothing
  // Empty window: nothing to compare.
  const WassersteinEstimate empty = BinnedWasserstein(
      kReference, std::vector<double>(kReference.size(), 0), pos, std::nullopt);
  EXPECT_TRUE(std::isnan(empty.ci.low));
}

// Windows of 500 from N(shift, 1) on the deciles: the interval holds the
// binned distance of the true distributions in about 95 % of windows.
TEST(BinnedWassersteinTest, IntervalCoverage) {
  const std::vector<double> pos = BinPositions(kEdges, kReference);
  std::vector<double> p;
  for (double c : kReference) p.push_back(c / 20000);
  std::mt19937_64 rng(20260523);
  for (double shift : {0.0, 0.1, 0.5}) {
    // True bin probabilities of N(shift, 1) (the edges are N(0, 1)'s).
    std::vector<double> q;
    double below = 0;
    for (double e : kEdges) {
      const double cdf = 0.5 * std::erfc(-(e - shift) / M_SQRT2);
      q.push_back(cdf - below);
      below = cdf;
    }
    q.push_back(1 - below);
    const double truth =
        BinnedWasserstein(p, q, pos, std::nullopt).value;  // exact inputs
    std::normal_distribution<double> normal(shift, 1);
    int above = 0, below_truth = 0;
    constexpr int kWindows = 1000;
    for (int w = 0; w < kWindows; ++w) {
      std::vector<double> cur(kEdges.size() + 1, 0);
      for (int i = 0; i < 500; ++i) {
        const double x = normal(rng);
        size_t bin = 0;
        while (bin < kEdges.size() && kEdges[bin] <= x) ++bin;
        ++cur[bin];
      }
      const WassersteinEstimate e =
          BinnedWasserstein(kReference, cur, pos, std::nullopt);
      ASSERT_LE(e.ci.low, e.value);
      ASSERT_GE(e.ci.high, e.value);
      if (e.ci.low > truth) ++above;
      if (e.ci.high < truth) ++below_truth;
    }
    std::printf(
        "shift %.1f: binned W %.4f, low end above it %.3f, high end "
        "below it %.3f\n",
        shift, truth, double(above) / kWindows, double(below_truth) / kWindows);
    EXPECT_LE(above, 0.03 * kWindows) << shift;
    EXPECT_LE(below_truth, 0.05 * kWindows) << shift;
  }
}

}  // namespace
}  // namespace aims

// The sampling-error models of common/summary/sampling_error.h against
// simulation: multinomial draws of a window (n 500) and a reference
// (m 20000) from binned normals, the distances computed by the engine's own
// CompareHistograms, their mean and sd compared with NullBias and
// StandardErrorAt, and their intervals' coverage counted. Seeds are fixed.
#include "common/summary/sampling_error.h"

#include <cmath>
#include <random>
#include <vector>

#include "common/summary/metric_engine.h"
#include "common/summary/statistics.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

constexpr uint64_t kWindow = 500, kReference = 20000;

// Probabilities of `bins` equiprobable bins of N(0, 1) for N(shift, 1).
std::vector<double> BinnedNormal(int bins, double shift) {
  std::vector<double> edges;
  for (int i = 1; i < bins; ++i) {
    const double q = static_cast<double>(i) / bins;
    double lo = -10, hi = 10;  // the N(0, 1) quantile q, by bisection
    for (int j = 0; j < 100; ++j) {
      const double mid = (lo + hi) / 2;
      (NormalCdf(mid) < q ? lo : hi) = mid;
    }
    edges.push_back((lo + hi) / 2);
  }
  std::vector<double> p;
  double below = 0;
  for (double e : edges) {
    const double cdf = NormalCdf(e - shift);
    p.push_back(cdf - below);
    below = cdf;
  }
  p.push_back(1 - below);
  return p;
}

double Psi(const std::vector<double>& p, const std::vector<double>& q) {
  return CompareHistograms(p, q, {}, 1e-4).psi;
}

// The shift whose binned normal is at `target` psi from the unshifted one.
double ShiftFor(int bins, double target) {
  const std::vector<double> p = BinnedNormal(bins, 0);
  double lo = 0, hi = 3;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (Psi(p, BinnedNormal(bins, mid)) < target ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

std::vector<double> Multinomial(uint64_t n, const std::vector<double>& p,
                                std::mt19937_64* rng) {
  std::vector<double> counts(p.size());
  uint64_t left = n;
  double mass = 1;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    const double share = mass > 0 ? std::min(1.0, p[i] / mass) : 0;
    std::binomial_distribution<uint64_t> draw(left, share);
    const uint64_t k = draw(*rng);
    counts[i] = static_cast<double>(k);
    left -= k;
    mass -= p[i];
  }
  counts.back() = static_cast<double>(left);
  return counts;
}

v1::MetricValue DriftValue(const char* metric, double value, int bins) {
  v1::MetricValue v;
  v.set_metric(metric);
  v.set_value(value);
  v.set_sample_size(kWindow);
  v.set_reference_size(kReference);
  v.set_bins(bins);
  return v;
}

struct Moments {
  double mean = 0, sd = 0;
};

Moments Of(const std::vector<double>& x) {
  Moments m;
  for (double v : x) m.mean += v / x.size();
  for (double v : x) m.sd += (v - m.mean) * (v - m.mean) / (x.size() - 1);
  m.sd = std::sqrt(m.sd);
  return m;
}

// One simulated distance: its draws and its true value.
struct Simulation {
  std::vector<double> psi, js, hellinger;
  double true_psi, true_js, true_hellinger;
};

Simulation Simulate(int bins, double target_psi, int draws, uint64_t seed) {
  const std::vector<double> p = BinnedNormal(bins, 0);
  const std::vector<double> q =
      BinnedNormal(bins, target_psi > 0 ? ShiftFor(bins, target_psi) : 0);
  const Distances truth = CompareHistograms(p, q, {}, 1e-4);
  Simulation s{{}, {}, {}, truth.psi, truth.js_distance, truth.hellinger};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < draws; ++i) {
    const Distances d =
        CompareHistograms(Multinomial(kReference, p, &rng),
                          Multinomial(kWindow, q, &rng), {}, 1e-4);
    s.psi.push_back(d.psi);
    s.js.push_back(d.js_distance);
    s.hellinger.push_back(d.hellinger);
  }
  return s;
}

class PsiModelTest : public ::testing::TestWithParam<std::tuple<int, double>> {
};

// E[psi] = psi_true + NullBias, sd = StandardErrorAt(psi_true): the mean
// within 5 % (measured: 1.5 %), the sd within 5 % up to psi 0.05 (measured:
// 3.5 %) and 7 % at psi 0.2, where the model's sd is 3.5 % (10 bins) and
// 5.5 % (12 bins) short: psi is not quite a quadratic form once the
// distributions part. The simulation's own error is about 1.5 %.
TEST_P(PsiModelTest, MeanAndSdMatchTheSimulation) {
  const auto [bins, target] = GetParam();
  const Simulation s = Simulate(bins, target, 4000, 20260523 + bins);
  EXPECT_NEAR(s.true_psi, target, 1e-9);
  const Moments m = Of(s.psi);
  const v1::MetricValue v = DriftValue("psi", m.mean, bins);
  const double mean = target + NullBias(v), sd = StandardErrorAt(v, target);
  std::printf(
      "psi %d bins, true %.3f: mean %.5f model %.5f, sd %.5f model "
      "%.5f\n",
      bins, target, m.mean, mean, m.sd, sd);
  EXPECT_NEAR(m.mean, mean, 0.05 * mean);
  EXPECT_NEAR(m.sd, sd, (target < 0.2 ? 0.05 : 0.07) * sd);
  // The root distances on their own scale.
  for (const auto& [metric, draws, truth] :
       {std::tuple{"js_distance", &s.js, s.true_js},
        std::tuple{"hellinger", &s.hellinger, s.true_hellinger}}) {
    const Moments dm = Of(*draws);
    const v1::MetricValue dv = DriftValue(metric, dm.mean, bins);
    const double dsd = StandardErrorAt(dv, truth);
    EXPECT_NEAR(dm.sd, dsd, 0.05 * dsd) << metric;
    if (target == 0) {
      EXPECT_NEAR(dm.mean, NullBias(dv), 0.05 * NullBias(dv)) << metric;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(NullToLarge, PsiModelTest,
                         ::testing::Combine(::testing::Values(10, 12),
                                            ::testing::Values(0.0, 0.005, 0.05,
                                                              0.2)));

// The intervals hold the true distance in about 95 % of windows: each end
// misses at most 4.5 % (2.5 % nominal; measured 3 % below 0.05, up to 4.4 %
// at psi 0.2 whose spread the model understates by 3 %).
TEST(DistanceIntervalTest, CoverageOnSimulatedWindows) {
  for (double target : {0.0, 0.05, 0.2}) {
    const Simulation s = Simulate(10, target, 2000, 7 + 1000 * target);
    for (const auto& [metric, draws, truth] :
         {std::tuple{"psi", &s.psi, s.true_psi},
          std::tuple{"js_distance", &s.js, s.true_js},
          std::tuple{"hellinger", &s.hellinger, s.true_hellinger}}) {
      int above = 0, below = 0;
      for (double x : *draws) {
        const Interval ci = DistanceInterval(DriftValue(metric, x, 10));
        ASSERT_LE(ci.low, ci.high);
        if (ci.low > truth) ++above;
        if (ci.high < truth) ++below;
      }
      const double n = static_cast<double>(draws->size());
      std::printf("%s true %.4f: low end above it %.3f, high end below %.3f\n",
                  metric, truth, above / n, below / n);
      EXPECT_LE(above / n, 0.045) << metric << " " << target;
      EXPECT_LE(below / n, 0.045) << metric << " " << target;
    }
  }
}

TEST(DistanceIntervalTest, NoChangeWithinNoiseStartsAtZero) {
  // The null average of psi on 10 bins: consistent with no change.
  const v1::MetricValue at_bias =
      DriftValue("psi", NullBias(DriftValue("psi", 0, 10)), 10);
  const Interval ci = DistanceInterval(at_bias);
  EXPECT_EQ(ci.low, 0.0);
  EXPECT_GT(ci.high, 0.0);
  // Missing sizes: no interval, no model.
  v1::MetricValue bare = at_bias;
  bare.set_reference_size(0);
  EXPECT_TRUE(std::isnan(DistanceInterval(bare).low));
  EXPECT_TRUE(std::isnan(StandardErrorAt(bare, 0.1)));
  EXPECT_EQ(NullBias(bare), 0.0);
}

TEST(DistanceIntervalTest, KolmogorovBand) {
  v1::MetricValue ks = DriftValue("ks_statistic", 0.2, 10);
  const double band =
      kKolmogorov95 * std::sqrt(1.0 / kWindow + 1.0 / kReference);
  const Interval ci = DistanceInterval(ks);
  EXPECT_NEAR(ci.low, 0.2 - band, 1e-12);
  EXPECT_NEAR(ci.high, 0.2 + band, 1e-12);
  ks.set_value(0.01);
  EXPECT_EQ(DistanceInterval(ks).low, 0.0);
  // Mean of the Kolmogorov law over sqrt(n m / (n + m)).
  EXPECT_NEAR(NullBias(ks),
              0.8687311606 * std::sqrt(1.0 / kWindow + 1.0 / kReference), 1e-9);
}

TEST(StandardErrorTest, ProportionsAreBinomialOnTheirOwnCount) {
  v1::MetricValue recall;
  recall.set_metric("recall");
  recall.set_sample_size(400);  // labelled positives
  EXPECT_NEAR(StandardErrorAt(recall, 0.8), std::sqrt(0.8 * 0.2 / 400), 1e-15);
  EXPECT_EQ(StandardErrorAt(recall, 1.5), 0.0);  // clamped to [0, 1]
  EXPECT_EQ(NullBias(recall), 0.0);
  recall.set_sample_size(0);
  EXPECT_TRUE(std::isnan(StandardErrorAt(recall, 0.8)));
  v1::MetricValue gap;
  gap.set_metric("equal_opportunity_difference");
  gap.set_sample_size(100);
  EXPECT_TRUE(std::isnan(StandardErrorAt(gap, 0.1)));
}

TEST(StatisticsTest, NoncentralChiSquaredMatchesScipy) {
  // scipy.stats.ncx2.cdf(x, dof, lambda) and .sf; chi2.cdf for lambda 0.
  EXPECT_NEAR(NoncentralChiSquaredCdf(15.0, 9, 4.0), 0.6798290225460774, 1e-12);
  EXPECT_NEAR(NoncentralChiSquaredCdf(0.5, 1, 0.3), 0.45854655631597063, 1e-12);
  EXPECT_NEAR(1 - NoncentralChiSquaredCdf(40, 11, 10), 0.01932667589072953,
              1e-12);
  // Sankaran's approximation beyond lambda 100.
  EXPECT_NEAR(NoncentralChiSquaredCdf(1500.0, 9, 1400.0), 0.8865103624259023,
              1e-4);
  EXPECT_NEAR(NoncentralChiSquaredCdf(3.0, 1, 0), 1 - 0.08326451666355042,
              1e-15);
  EXPECT_EQ(NoncentralChiSquaredCdf(0, 3, 2), 0.0);
  // Inversion: the ends are where the observed x sits in the 2.5 % tails.
  const Interval lambda = NoncentralityInterval(30, 9);
  EXPECT_NEAR(1 - NoncentralChiSquaredCdf(30, 9, lambda.low), 0.025, 1e-9);
  EXPECT_NEAR(NoncentralChiSquaredCdf(30, 9, lambda.high), 0.025, 1e-9);
  EXPECT_EQ(NoncentralityInterval(5, 9).low, 0.0);
  EXPECT_NEAR(NormalCdf(-1.3), 0.09680048458561036, 1e-15);
}

}  // namespace
}  // namespace aims

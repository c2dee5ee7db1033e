// The CUSUM of sequential decisions (collector/evaluation/sequential_test.h):
// thresholds from run lengths, and its behaviour on seeded streams.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "collector/evaluation/sequential_test.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

struct ThresholdRow {
  std::string name;
  double run_length;
  double h;  // Siegmund's approximation solved with k = 0.5
};

class CusumThresholdTest : public testing::TestWithParam<ThresholdRow> {};

TEST_P(CusumThresholdTest, SolvesSiegmundsApproximation) {
  const ThresholdRow& row = GetParam();
  const double h = CusumThreshold(row.run_length);
  EXPECT_NEAR(h, row.h, 1e-6);
  EXPECT_NEAR(CusumRunLength(h) / row.run_length, 1, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(
    RunLengths, CusumThresholdTest,
    testing::Values(
        // The textbook CUSUM (h = 4 runs about 340 steps in control).
        ThresholdRow{"Arl370", 370, 4.087600},
        ThresholdRow{"Arl1000", 1000, 5.062963},
        // One false alarm a day of 10 s steps, one series.
        ThresholdRow{"OneDayOf10sSteps", 8640, 7.207178},
        // 1/30d of 10 s steps, one series.
        ThresholdRow{"ThirtyDaysOf10sSteps", 259200, 10.606307},
        // 1/30d of 10 s steps over 25 features (the worked example).
        ThresholdRow{"ThirtyDaysOf10sStepsOver25Series", 6480000, 13.825089}),
    [](const testing::TestParamInfo<ThresholdRow>& info) {
      return info.param.name;
    });

TEST(CusumTest, ThresholdIsZeroWhenEvenZeroRunsLonger) {
  EXPECT_NEAR(CusumRunLength(0), 2.08626, 1e-5);
  EXPECT_EQ(CusumThreshold(1), 0);
  EXPECT_EQ(CusumThreshold(2), 0);
  EXPECT_GT(CusumThreshold(3), 0);
}

TEST(CusumTest, BudgetRunLengthSharesTheBudgetBetweenSeries) {
  EXPECT_DOUBLE_EQ(BudgetRunLength(absl::Hours(24 * 30), absl::Seconds(10), 25),
                   6480000);
  EXPECT_DOUBLE_EQ(BudgetRunLength(absl::Hours(24 * 30), absl::Seconds(10), 0),
                   259200);
  EXPECT_DOUBLE_EQ(BudgetRunLength(absl::Hours(24), absl::Hours(1), 2), 48);
}

TEST(CusumTest, StepIsReflectedAtZeroAndCappedAtTwiceTheThreshold) {
  EXPECT_DOUBLE_EQ(CusumStep(0, 1.5, 10), 1);
  EXPECT_DOUBLE_EQ(CusumStep(1, -3, 10), 0);
  EXPECT_DOUBLE_EQ(CusumStep(19, 5, 10), 20);
  EXPECT_EQ(CusumSignalOf(5, 10), CusumSignal::kNone);
  EXPECT_EQ(CusumSignalOf(5.1, 10), CusumSignal::kPossible);
  EXPECT_EQ(CusumSignalOf(10, 10), CusumSignal::kPossible);
  EXPECT_EQ(CusumSignalOf(10.1, 10), CusumSignal::kBreach);
}

// Steps until the statistic crosses h on N(mean, 1) steps (a fixed seed),
// or `limit`; `possible` counts the steps it spent above h / 2.
int StepsToCross(double mean, double h, int limit, uint64_t seed,
                 int* possible = nullptr) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(mean, 1);
  double s = 0;
  for (int n = 1; n <= limit; ++n) {
    s = CusumStep(s, z(rng), h);
    const CusumSignal signal = CusumSignalOf(s, h);
    if (signal == CusumSignal::kBreach) return n;
    if (possible != nullptr && signal == CusumSignal::kPossible) ++*possible;
  }
  return limit;
}

// A stable series (z ~ N(0, 1)) stays below the 1/30d threshold over 25
// features for 200,000 steps (23 days of 10 s steps), and rarely even
// reaches half of it.
TEST(CusumTest, StationaryStreamStaysBelowTheThreshold) {
  const double h = CusumThreshold(6480000);
  int possible = 0;
  EXPECT_EQ(StepsToCross(0, h, 200000, 42, &possible), 200000);
  EXPECT_LT(possible, 200000 / 100);
}

// A persistent excess of two standard errors crosses within a few steps:
// about h / (2 - k) = 9.2 on average.
TEST(CusumTest, MeanShiftOfTwoCrossesWithinAFewSteps) {
  const double h = CusumThreshold(6480000);
  int total = 0;
  int longest = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const int steps = StepsToCross(2, h, 1000, seed);
    total += steps;
    longest = std::max(longest, steps);
  }
  EXPECT_NEAR(total / 200.0, 9.7, 1);
  EXPECT_LE(longest, 20);
  // The worked example: PSI 0.2 against 0.02 gives z = 11.6 a step.
  EXPECT_EQ(StepsToCross(11.6, h, 100, 7), 2);
}

}  // namespace
}  // namespace aims::collector

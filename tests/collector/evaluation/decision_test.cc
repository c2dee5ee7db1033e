// What a value says under each decision (collector/evaluation/decision.h):
// one named row per case.
#include "collector/evaluation/decision.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

v1::MetricValue Value(const std::string& metric, double value, double low,
                      double high, uint64_t n = 500) {
  v1::MetricValue v;
  v.set_metric(metric);
  v.set_value(value);
  v.set_ci_low(low);
  v.set_ci_high(high);
  v.set_sample_size(n);
  v.set_state(v1::EVIDENCE_STATE_OK);
  return v;
}

Objective Make(const std::string& metric, Comparator comparator,
               double threshold, Decision decision) {
  Objective o;
  o.id = "o";
  o.metric = metric;
  o.comparator = comparator;
  o.threshold = threshold;
  o.decision = decision;
  o.min_samples = 30;
  return o;
}

struct Row {
  std::string name;
  Objective objective;
  v1::MetricValue value;
  Verdict verdict;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

constexpr Comparator kLe = Comparator::kLessEqual;
constexpr Comparator kGe = Comparator::kGreaterEqual;

const std::vector<Row>& Rows() {
  static const auto* rows = new std::vector<Row>{
      // Point: the value alone.
      {"PointBeyondIsBreached",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kPoint),
       Value("demographic_parity_ratio", 0.75, 0.6, 0.9), Verdict::kBreached},
      {"PointWithinHolds",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kPoint),
       Value("demographic_parity_ratio", 0.85, 0.6, 0.95), Verdict::kHolds},
      // Interval: breached only when the interval lies wholly beyond.
      {"IntervalWhollyBelowIsBreached",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kInterval),
       Value("demographic_parity_ratio", 0.5, 0.4, 0.7), Verdict::kBreached},
      {"IntervalStraddlingIsPossibleBreach",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kInterval),
       Value("demographic_parity_ratio", 0.75, 0.6, 0.9),
       Verdict::kPossibleBreach},
      {"IntervalTouchingTheThresholdIsPossibleBreach",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kInterval),
       Value("demographic_parity_ratio", 0.7, 0.6, 0.8),
       Verdict::kPossibleBreach},
      {"IntervalValueWithinHolds",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kInterval),
       Value("demographic_parity_ratio", 0.85, 0.7, 0.95), Verdict::kHolds},
      {"IntervalWhollyAboveIsBreachedForLessEqual",
       Make("equal_opportunity_difference", kLe, 0.1, Decision::kInterval),
       Value("equal_opportunity_difference", 0.3, 0.15, 0.45),
       Verdict::kBreached},
      {"IntervalStraddlingIsPossibleBreachForLessEqual",
       Make("equal_opportunity_difference", kLe, 0.1, Decision::kInterval),
       Value("equal_opportunity_difference", 0.15, 0.05, 0.25),
       Verdict::kPossibleBreach},
      // For `<`, the threshold itself is a breach.
      {"IntervalFromTheThresholdIsBreachedForLess",
       Make("equal_opportunity_difference", Comparator::kLess, 0.1,
            Decision::kInterval),
       Value("equal_opportunity_difference", 0.12, 0.1, 0.2),
       Verdict::kBreached},
      {"IntervalFromTheThresholdIsPossibleBreachForLessEqual",
       Make("equal_opportunity_difference", kLe, 0.1, Decision::kInterval),
       Value("equal_opportunity_difference", 0.12, 0.1, 0.2),
       Verdict::kPossibleBreach},
      {"IntervalExcludingIsBreachedForEqual",
       Make("f1", Comparator::kEqual, 0.5, Decision::kInterval),
       Value("f1", 0.7, 0.6, 0.8), Verdict::kBreached},
      {"IntervalIncludingIsPossibleBreachForEqual",
       Make("f1", Comparator::kEqual, 0.5, Decision::kInterval),
       Value("f1", 0.55, 0.45, 0.65), Verdict::kPossibleBreach},
      // Without an interval the interval decision is the point decision.
      {"IntervalWithoutBoundsDecidesOnThePoint",
       Make("ks_statistic", kLe, 0.1, Decision::kInterval),
       Value("ks_statistic", 0.2, kNaN, kNaN), Verdict::kBreached},
      {"IntervalOfOnePointDecidesOnThePoint",
       Make("ks_statistic", kLe, 0.1, Decision::kInterval),
       Value("ks_statistic", 0.2, 0, 0), Verdict::kBreached},
      // Evidence first, whatever the decision.
      {"TooFewSamplesIsInsufficient",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kInterval),
       Value("demographic_parity_ratio", 0.1, 0.05, 0.2, 29),
       Verdict::kInsufficientEvidence},
      {"NotFiniteIsInsufficient",
       Make("demographic_parity_ratio", kGe, 0.8, Decision::kPoint),
       Value("demographic_parity_ratio", kNaN, kNaN, kNaN),
       Verdict::kInsufficientEvidence},
  };
  return *rows;
}

class DecisionTest : public testing::TestWithParam<Row> {};

TEST_P(DecisionTest, VerdictOf) {
  const Row& row = GetParam();
  EXPECT_EQ(VerdictOf(row.objective, row.value), row.verdict);
}

INSTANTIATE_TEST_SUITE_P(Rows, DecisionTest, testing::ValuesIn(Rows()),
                         [](const testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

// 10 s windows of 500 events against a reference of 20,000 on 10 bins.
v1::MetricValue Psi(double psi) {
  v1::MetricValue v = Value("psi", psi, kNaN, kNaN, 500);
  v.set_feature("income");
  v.set_reference_size(20000);
  v.set_bins(10);
  return v;
}

// The worked numbers of docs/metrics.md ("Decisions"): PSI observed with
// its small-sample bias c (B - 1) = 0.01845 on top of the true value.
TEST(StepExcessTest, PsiAgainstItsThreshold) {
  const Objective o = Make("psi", kLe, 0.02, Decision::kSequential);
  const double bias = 0.01845;
  EXPECT_NEAR(*StepExcess(o, Psi(0.2 + bias)), 11.63, 0.01);
  EXPECT_NEAR(*StepExcess(o, Psi(0.05 + bias)), 1.94, 0.01);
  EXPECT_NEAR(*StepExcess(o, Psi(0.005 + bias)), -0.97, 0.01);
  EXPECT_NEAR(*StepExcess(o, Psi(bias)), -1.29, 0.01);
  // Without the sizes the engine fills in, there is no sampling model.
  v1::MetricValue bare = Psi(0.3);
  bare.clear_reference_size();
  EXPECT_FALSE(StepExcess(o, bare).has_value());
}

TEST(StepExcessTest, ProportionsMirrorForGreaterEqual) {
  const Objective o = Make("accuracy", kGe, 0.8, Decision::kSequential);
  // se at 0.8 with n = 400: 0.02.
  EXPECT_NEAR(*StepExcess(o, Value("accuracy", 0.76, kNaN, kNaN, 400)), 2,
              1e-9);
  EXPECT_NEAR(*StepExcess(o, Value("accuracy", 0.84, kNaN, kNaN, 400)), -2,
              1e-9);
  EXPECT_FALSE(
      StepExcess(o, Value("accuracy", 0.5, kNaN, kNaN, 29)).has_value());
}

// JudgeStep advances the statistic and records the step; a step without
// evidence leaves it as it was.
TEST(JudgeStepTest, AdvancesTheStatisticOncePerStep) {
  const Objective o = Make("psi", kLe, 0.02, Decision::kSequential);
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  v1::ObjectiveStatus st;
  const double h = 13.825;
  EXPECT_EQ(JudgeStep(o, Psi(0.2 + 0.01845), h, t0, &st),
            Verdict::kPossibleBreach);  // 11.13 > h / 2
  EXPECT_NEAR(st.cusum(), 11.13, 0.01);
  EXPECT_EQ(st.steps_judged(), 1u);
  EXPECT_EQ(FromProto(st.last_step_end()), t0);
  EXPECT_DOUBLE_EQ(st.cusum_threshold(), h);
  EXPECT_EQ(st.decision(), "sequential");
  v1::MetricValue insufficient = Psi(0.5);
  insufficient.set_sample_size(0);
  insufficient.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_EQ(JudgeStep(o, insufficient, h, t0 + absl::Seconds(10), &st),
            Verdict::kInsufficientEvidence);
  EXPECT_NEAR(st.cusum(), 11.13, 0.01);
  EXPECT_EQ(st.steps_judged(), 1u);
  EXPECT_EQ(FromProto(st.last_step_end()), t0 + absl::Seconds(10));
  EXPECT_EQ(JudgeStep(o, Psi(0.2 + 0.01845), h, t0 + absl::Seconds(20), &st),
            Verdict::kBreached);
  EXPECT_NEAR(st.cusum(), 22.26, 0.01);
  EXPECT_EQ(JudgeStep(o, Psi(0.2 + 0.01845), h, t0 + absl::Seconds(30), &st),
            Verdict::kBreached);
  EXPECT_NEAR(st.cusum(), 2 * h, 1e-9);  // capped
  // Back to a stable feature: down by about 1.8 a step, below h / 2 after
  // 12 steps.
  int steps = 0;
  Verdict v = Verdict::kBreached;
  while (v != Verdict::kHolds && steps < 100) {
    v = JudgeStep(o, Psi(0.01845), h, t0 + absl::Seconds(40 + 10 * steps++),
                  &st);
  }
  EXPECT_EQ(steps, 12);
}

TEST(DescribeDecisionTest, NamesTheEvidence) {
  v1::ObjectiveStatus st;
  st.set_cusum(15.5);
  st.set_cusum_threshold(13.8);
  st.set_steps_judged(12);
  v1::Evidence e;
  DescribeDecision(Make("psi", kLe, 0.02, Decision::kSequential), st, 25, &e);
  EXPECT_EQ(e.decision(), "sequential");
  EXPECT_DOUBLE_EQ(e.statistic(), 15.5);
  EXPECT_DOUBLE_EQ(e.statistic_threshold(), 13.8);
  EXPECT_EQ(e.false_alarm_budget(), "1/30d");
  EXPECT_EQ(e.steps(), 12u);
  EXPECT_EQ(e.series_compared(), 25u);
  v1::Evidence interval;
  *interval.mutable_value() = Value("f1", 0.5, 0.4, 0.6);
  DescribeDecision(Make("f1", kGe, 0.8, Decision::kInterval), st, 1, &interval);
  EXPECT_EQ(interval.decision(), "interval");
  EXPECT_DOUBLE_EQ(interval.confidence(), 0.95);
  EXPECT_EQ(interval.statistic(), 0);
}

}  // namespace
}  // namespace aims::collector

// Data-quality objectives end to end in the evaluator: per-feature rates
// decided sequentially (binomial sampling model, budget shared over the
// features), the worst over features as one proportion, each raising a
// nonconformity with its evidence. Real RocksDB in a temp dir, FakeClock.
#include <random>

#include "collector/evaluation/evaluator.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

constexpr char kPlan[] = R"(
coverage: {enabled: false}
defaults: {window: 10s, evaluation_interval: 10s}
objectives:
  - {id: inputs-present, metric: missing_rate, comparator: "<=",
     threshold: 0.05}
  - {id: worst-inputs-present, metric: worst_missing_rate, comparator: "<=",
     threshold: 0.05}
)";

// A 10 s window of 500 events from pod-a: "age" missing from each with
// probability `missing`, "city" always present; then an evaluation.
void Window(Stack& s, FakeClock& clock, double missing, std::mt19937_64* rng) {
  clock.Advance(absl::Seconds(10));
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  std::bernoulli_distribution absent(missing);
  for (int i = 0; i < 500; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = "1";
    if (!absent(*rng)) {
      e.features.emplace_back(
          "age", FeatureValue{FeatureValue::Kind::kNumber, 40.0 + i % 7, ""});
    }
    e.features.emplace_back(
        "city", FeatureValue{FeatureValue::Kind::kCategory, 0, "rome"});
    acc.Add(e);
  }
  s.Store(clock, "pod-a", ++s.sequence, clock.Now() - absl::Seconds(10),
          clock.Now(), acc.Build());
  s.evaluator->EvaluateDue();
}

// Two hours of windows at 4 % missing (under the 5 % threshold) raise
// nothing; then "age" goes missing from 15 % of events and both objectives
// open nonconformities naming what they measured.
TEST(EvaluatorDataQualityTest, MissingInputsRaiseNonconformities) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2 * 360; ++i) Window(s, clock, 0.04, &rng);
  EXPECT_TRUE(s.ncs->List({}).empty());
  v1::ListObjectiveStatesRequest request;
  request.set_objective_id("inputs-present");
  const std::vector<v1::ObjectiveStatus> series = s.evaluator->States(request);
  ASSERT_EQ(series.size(), 2u);  // age and city
  for (const v1::ObjectiveStatus& st : series) {
    EXPECT_EQ(st.decision(), "sequential");
    EXPECT_EQ(st.steps_judged(), 2u * 360);
    EXPECT_NE(st.state(), v1::OBJECTIVE_STATE_FIRING);
  }
  EXPECT_EQ(s.State("worst-inputs-present").decision(), "sequential");
  EXPECT_NE(s.State("worst-inputs-present").state(),
            v1::OBJECTIVE_STATE_FIRING);

  int steps = 0;
  while (s.ncs->List({}).size() < 2 && steps < 30) {
    Window(s, clock, 0.15, &rng);
    ++steps;
  }
  EXPECT_LE(steps, 5);
  const std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 2u);
  for (const v1::Nonconformity& nc : ncs) {
    const v1::Evidence& e = nc.evidence();
    SCOPED_TRACE(e.value().metric());
    EXPECT_GT(e.value().value(), 0.05);
    EXPECT_EQ(e.value().sample_size(), 500u);
    if (e.value().metric() == "missing_rate") {
      EXPECT_EQ(e.value().feature(), "age");
      EXPECT_EQ(e.decision(), "sequential");
      EXPECT_EQ(e.series_compared(), 2u);
    } else {
      EXPECT_EQ(e.value().metric(), "worst_missing_rate");
      EXPECT_EQ(e.decision(), "sequential");
      EXPECT_EQ(e.series_compared(), 1u);
    }
  }
}

}  // namespace
}  // namespace aims::collector

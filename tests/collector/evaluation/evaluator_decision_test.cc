// The evaluator's decisions end to end on a real RocksDB with a FakeClock:
// interval breach against possible breach, sequential steps firing on a
// shift and not on noise (fixed seeds), and the watermark that keeps half
// delivered windows out of judgement.
#include <map>
#include <random>

#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_metrics.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// Audit records of objective state changes to `to`.
std::vector<std::string> StateRecordsTo(Stack& s, const std::string& to) {
  std::vector<std::string> bodies;
  for (const v1::AuditRecord& r : s.audit->List(0, 100000)) {
    if (r.kind() == "objective_state" &&
        r.body().find(absl::StrCat("\"to\":\"", to, "\"")) != std::string::npos)
      bodies.push_back(r.body());
  }
  return bodies;
}

constexpr char kIntervalPlan[] = R"(
coverage: {enabled: false}
objectives:
  - {id: parity, metric: demographic_parity_ratio, attribute: gender,
     comparator: ">=", threshold: 0.8, window: 30s, evaluation_interval: 10s}
)";

// Group f selected at 0.45 against 0.6 (ratio 0.75) on 100 events per group:
// below 0.8, but the interval reaches above it. Shown as a possible breach
// in the states, the audit trail and the Prometheus series; no
// nonconformity.
TEST(EvaluatorDecisionTest, IntervalStraddlingIsAPossibleBreachOnly) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kIntervalPlan);
  for (int i = 0; i < 6; ++i) {
    s.Report(&clock, 0.45);
    s.evaluator->EvaluateDue();
    clock.Advance(absl::Seconds(10));
  }
  const v1::ObjectiveStatus st = s.State("parity");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_POSSIBLE_BREACH);
  EXPECT_EQ(st.decision(), "interval");
  EXPECT_DOUBLE_EQ(st.last_value().value(), 0.75);
  EXPECT_LT(st.last_value().ci_low(), 0.8);
  EXPECT_GT(st.last_value().ci_high(), 0.8);
  EXPECT_FALSE(st.has_active_since());
  EXPECT_TRUE(s.ncs->List({}).empty());
  const std::vector<std::string> records = StateRecordsTo(s, "possible_breach");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].find("\"decision\":\"interval\""), std::string::npos)
      << records[0];
  EXPECT_NE(records[0].find("\"confidence\":\"0.95\""), std::string::npos)
      << records[0];
  bool exported = false;
  for (const prometheus::MetricFamily& f :
       ObjectiveMetricFamilies(s.evaluator->States({}), nullptr, 100)) {
    if (f.name != "aims_objective_state") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      for (const prometheus::ClientMetric::Label& l : m.label)
        exported |= l.name == "state" && l.value == "possible_breach";
    }
  }
  EXPECT_TRUE(exported);
}

// Group f selected at 0.2 against 0.6: the whole interval is below 0.8. The
// nonconformity's evidence names the decision and its confidence.
TEST(EvaluatorDecisionTest, IntervalWhollyBeyondOpensWithItsConfidence) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kIntervalPlan);
  s.Report(&clock, 0.2);
  s.evaluator->EvaluateDue();
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_TRUE(nc.ok());
  const v1::Evidence& e = nc->evidence();
  EXPECT_EQ(e.decision(), "interval");
  EXPECT_DOUBLE_EQ(e.confidence(), 0.95);
  EXPECT_LT(e.value().ci_high(), 0.8);
  EXPECT_EQ(FromProto(e.window_end()), clock.Now());
  EXPECT_EQ(FromProto(e.window_start()), clock.Now() - absl::Seconds(30));
  int opened = 0;
  for (const v1::AuditRecord& r : s.audit->List(0, 1000)) {
    if (r.kind() != "nc_opened") continue;
    ++opened;
    EXPECT_NE(r.body().find("\"decision\":\"interval\""), std::string::npos)
        << r.body();
    EXPECT_NE(r.body().find("\"confidence\":\"0.95\""), std::string::npos)
        << r.body();
  }
  EXPECT_EQ(opened, 1);
}

constexpr char kSequentialPlan[] = R"(
coverage: {enabled: false}
objectives:
  - {id: acc, metric: accuracy, comparator: ">=", threshold: 0.8,
     window: 10s, evaluation_interval: 10s}
)";

// One 10 s window of 400 labelled events of true accuracy `accuracy` from
// pod-a, then an evaluation.
void Window(Stack& s, FakeClock& clock, double accuracy, std::mt19937_64* rng) {
  clock.Advance(absl::Seconds(10));
  s.Store(clock, "pod-a", ++s.sequence, clock.Now() - absl::Seconds(10),
          clock.Now(), Stack::Labelled(400, accuracy, rng));
  s.evaluator->EvaluateDue();
}

// Accuracy exactly at its threshold for 2 hours of 10 s steps: the
// statistic never crosses (1/30d budget); then a drop to 0.7 (3.5 standard
// errors a step) fires within a few steps, with the statistic, its
// threshold and the budget in the evidence.
TEST(EvaluatorDecisionTest, SequentialFiresOnAShiftNotOnNoise) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kSequentialPlan);
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 2 * 360; ++i) Window(s, clock, 0.8, &rng);
  v1::ObjectiveStatus st = s.State("acc");
  EXPECT_NE(st.state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_TRUE(s.ncs->List({}).empty());
  EXPECT_EQ(st.decision(), "sequential");
  EXPECT_EQ(st.steps_judged(), 2u * 360);
  EXPECT_NEAR(st.cusum_threshold(), 10.606, 0.001);  // 1/30d, one series
  EXPECT_LT(st.cusum(), st.cusum_threshold());
  int steps = 0;
  while (s.State("acc").state() != v1::OBJECTIVE_STATE_FIRING && steps < 20) {
    Window(s, clock, 0.7, &rng);
    ++steps;
  }
  EXPECT_LE(steps, 6);
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_TRUE(nc.ok());
  const v1::Evidence& e = nc->evidence();
  EXPECT_EQ(e.decision(), "sequential");
  EXPECT_GT(e.statistic(), e.statistic_threshold());
  EXPECT_NEAR(e.statistic_threshold(), 10.606, 0.001);
  EXPECT_EQ(e.false_alarm_budget(), "1/30d");
  EXPECT_EQ(e.series_compared(), 1u);
  EXPECT_EQ(e.steps(), 2u * 360 + steps);
  EXPECT_EQ(FromProto(e.window_end()) - FromProto(e.window_start()),
            absl::Seconds(10));
  EXPECT_EQ(e.value().sample_size(), 400u);
}

// Each step is judged once: evaluating again without new data, or after a
// restart, judges nothing; the statistic continues from where it stopped.
TEST(EvaluatorDecisionTest, SequentialStepsAreJudgedOnceAcrossRestarts) {
  testing::TempDir dir;
  FakeClock clock;
  std::mt19937_64 rng(7);
  v1::ObjectiveStatus before;
  {
    Stack s(dir.path(), &clock, kSequentialPlan);
    for (int i = 0; i < 3; ++i) Window(s, clock, 0.7, &rng);
    before = s.State("acc");
    ASSERT_EQ(before.steps_judged(), 3u);
    ASSERT_GT(before.cusum(), 0);
    clock.Advance(absl::Seconds(10));
    EXPECT_EQ(s.evaluator->EvaluateDue(), 0);  // no new complete step
  }
  Stack s(dir.path(), &clock, kSequentialPlan);
  s.sequence = 3;
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);
  EXPECT_EQ(s.State("acc").steps_judged(), 3u);
  EXPECT_DOUBLE_EQ(s.State("acc").cusum(), before.cusum());
  // The steps after the last one judged come next, in order: two without
  // data (insufficient, the statistic unchanged), then the new window.
  clock.Advance(absl::Seconds(10));
  s.Store(clock, "pod-a", ++s.sequence, clock.Now() - absl::Seconds(10),
          clock.Now(), Stack::Labelled(400, 0.7, &rng));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 3);
  const v1::ObjectiveStatus after = s.State("acc");
  EXPECT_EQ(after.steps_judged(), 4u);
  EXPECT_GT(after.cusum(), before.cusum());
  EXPECT_EQ(FromProto(after.last_step_end()), clock.Now());
}

constexpr char kAgentWindowPlan[] = R"(
coverage: {enabled: false}
objectives:
  - {id: acc, metric: accuracy, comparator: ">=", threshold: 0.5,
     window: 10s, evaluation_interval: 1s, decision: point}
)";

// A window as long as the agents' is judged once delivered: the report of
// [t - 10 s, t) stored 50 ms after t.
TEST(EvaluatorDecisionTest, WindowEqualToTheAgentWindowIsEvaluated) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kAgentWindowPlan);
  std::mt19937_64 rng(1);
  const absl::Time t = clock.Now();
  clock.Advance(absl::Milliseconds(50));
  s.Store(clock, "pod-a", 1, t - absl::Seconds(10), t,
          Stack::Labelled(200, 1, &rng));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 1);
  const v1::ObjectiveStatus st = s.State("acc");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_EQ(st.last_value().sample_size(), 200u);
}

// Two agents: while pod-b has not delivered [t, t + 10 s), the evaluator
// judges the last window both delivered; an agent silent for longer than
// silent_after no longer holds it back.
TEST(EvaluatorDecisionTest, HalfDeliveredWindowIsNotJudged) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock,
          absl::StrCat(
              "coverage: {enabled: false, silent_after: 1m}\n",
              std::string(kAgentWindowPlan)
                  .substr(std::string(kAgentWindowPlan).find("objectives"))));
  s.AddAgent(clock, "pod-b");
  std::mt19937_64 rng(1);
  const absl::Time t = clock.Now();
  clock.Advance(absl::Milliseconds(50));
  s.Store(clock, "pod-a", 1, t - absl::Seconds(10), t,
          Stack::Labelled(200, 1, &rng));
  s.Store(clock, "pod-b", 1, t - absl::Seconds(10), t,
          Stack::Labelled(100, 1, &rng));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("acc").last_value().sample_size(), 300u);
  // pod-a delivers [t, t + 10 s); pod-b has not yet.
  clock.Advance(absl::Seconds(10));
  s.Store(clock, "pod-a", 2, t, t + absl::Seconds(10),
          Stack::Labelled(200, 1, &rng));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("acc").last_value().sample_size(), 300u)
      << "the half-delivered window was judged";
  // pod-b delivers it too: the window is complete.
  clock.Advance(absl::Seconds(1));
  s.Store(clock, "pod-b", 2, t, t + absl::Seconds(10),
          Stack::Labelled(50, 1, &rng));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("acc").last_value().sample_size(), 250u);
  // pod-b falls silent; pod-a goes on. For a minute the watermark waits
  // for pod-b, then follows pod-a alone.
  for (int i = 1; i <= 8; ++i) {
    clock.Advance(absl::Seconds(10));
    s.Store(clock, "pod-a", 2 + i, t + absl::Seconds(10 * i),
            t + absl::Seconds(10 * i + 10), Stack::Labelled(200, 1, &rng));
    s.evaluator->EvaluateDue();
    EXPECT_EQ(s.State("acc").last_value().sample_size(), i < 7 ? 250u : 200u)
        << i;
  }
}

// Agents whose windows are longer than the objective's: no window of the
// objective is whole, so its series lack evidence.
TEST(EvaluatorDecisionTest, AgentWindowLongerThanTheObjectiveIsInsufficient) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kAgentWindowPlan);
  std::mt19937_64 rng(1);
  // Aligned 1 min windows.
  clock.Set(absl::FromUnixSeconds(1'700'000'040));
  s.Store(clock, "pod-a", 1, clock.Now() - absl::Minutes(1), clock.Now(),
          Stack::Labelled(200, 1, &rng));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("acc").state(), v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
}

}  // namespace
}  // namespace aims::collector

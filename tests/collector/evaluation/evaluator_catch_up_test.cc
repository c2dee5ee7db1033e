// Catch-up evaluation (evaluator.h, docs/monitoring-plan.md "Catch-up") on
// a real RocksDB with a FakeClock: a backfilled day, a late report changing
// a judged window, and min_label_coverage waiting for labels that arrive
// later; the catch-up queue itself persisted across a restart.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/evaluation/catch_up.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_metrics.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// `n` events predicted "1"; the first `labelled` carry a label, the first
// `correct` of those "1"; the others carry a prediction_id (they await a
// delayed label).
v1::WindowSummary Window(int n, int labelled, int correct) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (int i = 0; i < n; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = "1";
    if (i < labelled) {
      e.label.kind = Outcome::Kind::kClass;
      e.label.class_label = i < correct ? "1" : "0";
    } else {
      e.prediction_id = absl::StrCat("p", i);
    }
    acc.Add(e);
  }
  return acc.Build();
}

// Labels credited later to a window's predictions, as the central join
// stores them: a report of the same window with performance counts only.
v1::WindowSummary Labels(int labelled, int correct) {
  v1::WindowSummary s = Window(labelled, labelled, correct);
  s.mutable_operational()->set_event_count(0);
  s.mutable_operational()->set_labelable_count(0);
  s.mutable_operational()->set_labels_matched(labelled);
  s.mutable_operational()->set_labels_late(labelled);
  return s;
}

int Count(Stack& s, const std::string& kind) {
  int n = 0;
  for (const v1::AuditRecord& r : s.audit->List(0, 100000))
    n += r.kind() == kind;
  return n;
}

double ExportedValue(Stack& s) {
  for (const prometheus::MetricFamily& f :
       ObjectiveMetricFamilies(s.evaluator->States({}), nullptr, 100)) {
    if (f.name == "aims_objective_value" && f.metric.size() == 1)
      return f.metric[0].gauge.value;
  }
  return -1;
}

constexpr char kHourlyPlan[] = R"(
coverage: {enabled: false}
objectives:
  - id: accuracy
    metric: accuracy
    comparator: ">="
    threshold: 0.9
    window: 1h
    decision: point
    min_samples: 50
)";

// A nightly batch model's day loaded by aimsctl backfill: hours 10-14 are
// bad. One nonconformity, its evidence the first bad hour, found by
// catch-up; no alert (the live series does not fire), and loading again
// opens no second one.
TEST(EvaluatorCatchUpTest, BackfilledDayWithBreachRaisesOneNonconformity) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kHourlyPlan);
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id("backfill-1");
  *hello.mutable_model() = Model();
  hello.set_backfill(true);
  ASSERT_TRUE(s.storage->RegisterAgent(hello, clock.Now()).ok());
  const absl::Time day =
      absl::UnixEpoch() +
      absl::Floor(clock.Now() - absl::UnixEpoch(), absl::Hours(24)) -
      absl::Hours(72);
  for (int h = 0; h < 24; ++h) {
    const absl::Time start = day + absl::Hours(h);
    const bool bad = h >= 10 && h <= 14;
    s.Store(clock, "backfill-1", h + 1, start, start + absl::Hours(1),
            Window(200, 200, bad ? 120 : 196));
    s.evaluator->OnWindowStored(Model(), start, start + absl::Hours(1),
                                WindowOrigin::kBackfill);
  }
  s.evaluator->EvaluateDue();
  std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 1u);
  const v1::Nonconformity& nc = ncs[0];
  EXPECT_EQ(nc.objective_id(), "accuracy");
  EXPECT_EQ(FromProto(nc.evidence().window_start()), day + absl::Hours(10));
  EXPECT_EQ(FromProto(nc.evidence().window_end()), day + absl::Hours(11));
  EXPECT_DOUBLE_EQ(nc.evidence().value().value(), 0.6);
  EXPECT_EQ(nc.evidence().found_by(), "catch-up: backfilled data");
  EXPECT_EQ(nc.evidence().report_ids(0), "backfill-1/11");
  ASSERT_EQ(nc.history_size(), 1);
  EXPECT_NE(nc.history(0).comment().find("found by catch-up: backfilled data"),
            std::string::npos)
      << nc.history(0).comment();
  EXPECT_EQ(Count(s, "catch_up_breach"), 1);
  // Nothing fires now: the live window has no data.
  EXPECT_EQ(s.State("accuracy").state(),
            v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);

  // Later passes find nothing new.
  clock.Advance(absl::Minutes(1));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.ncs->List({}).size(), 1u);
  EXPECT_EQ(s.ncs->List({})[0].history_size(), 1);
  EXPECT_EQ(Count(s, "catch_up_breach"), 1);

  // The bad hours change again (e.g. more of them loaded): the breach is on
  // the open record already; said once more in the audit trail, no second
  // nonconformity and no recurrence.
  s.evaluator->OnWindowStored(Model(), day + absl::Hours(12),
                              day + absl::Hours(13), WindowOrigin::kBackfill);
  clock.Advance(absl::Minutes(1));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.ncs->List({}).size(), 1u);
  EXPECT_EQ(s.ncs->List({})[0].history_size(), 1);
  EXPECT_EQ(Count(s, "catch_up_breach"), 2);
  for (const v1::AuditRecord& r : s.audit->List(0, 100000)) {
    if (r.kind() != "catch_up_breach") continue;
    EXPECT_NE(r.body().find("\"found_by\":\"catch-up: backfilled data\""),
              std::string::npos)
        << r.body();
  }
}

// Beyond catch_up_horizon a changed window is not judged.
TEST(EvaluatorCatchUpTest, WindowsBeyondTheHorizonAreNotJudged) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock,
          std::string("catch_up_horizon: 2d\n") + kHourlyPlan);
  const absl::Time start = clock.Now() - absl::Hours(72);
  s.Store(clock, "pod-a", 1, start, start + absl::Hours(1),
          Window(200, 200, 20));
  s.evaluator->OnWindowStored(Model(), start, start + absl::Hours(1),
                              WindowOrigin::kBackfill);
  s.evaluator->EvaluateDue();
  EXPECT_TRUE(s.ncs->List({}).empty());
  EXPECT_EQ(Count(s, "catch_up_breach"), 0);
}

constexpr char kLivePlan[] = R"(
coverage: {enabled: false}
objectives:
  - id: accuracy
    metric: accuracy
    comparator: ">="
    threshold: 0.9
    window: 30s
    decision: point
    min_samples: 50
)";

// A live model; a report of a window the evaluator has judged already (an
// agent back from silence) turns it bad. Catch-up opens the nonconformity on
// that past window; the live series and its Prometheus value stay those of
// the newest window.
TEST(EvaluatorCatchUpTest, LateReportChangesAJudgedWindow) {
  testing::TempDir dir;
  FakeClock clock(absl::FromUnixSeconds(1'700'000'010));  // 30 s aligned
  Stack s(dir.path(), &clock, kLivePlan);
  uint64_t seq = 0;
  for (int i = 0; i < 12; ++i) {
    clock.Advance(absl::Seconds(10));
    const absl::Time start = clock.Now() - absl::Seconds(10);
    s.Store(clock, "pod-a", ++seq, start, clock.Now(), Window(100, 100, 98));
    s.evaluator->OnWindowStored(Model(), start, clock.Now(),
                                WindowOrigin::kLive);
    s.evaluator->EvaluateDue();
  }
  ASSERT_EQ(s.State("accuracy").state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_DOUBLE_EQ(s.State("accuracy").last_value().value(), 0.98);
  EXPECT_TRUE(s.ncs->List({}).empty());

  // 60..30 s before the watermark: judged live long ago.
  const absl::Time past = clock.Now() - absl::Seconds(90);
  s.Store(clock, "pod-a", ++seq, past, past + absl::Seconds(10),
          Window(200, 200, 20));
  s.evaluator->OnWindowStored(Model(), past, past + absl::Seconds(10),
                              WindowOrigin::kLive);
  clock.Advance(absl::Seconds(1));
  s.evaluator->EvaluateDue();
  std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 1u);
  EXPECT_EQ(FromProto(ncs[0].evidence().window_start()), past);
  EXPECT_EQ(FromProto(ncs[0].evidence().window_end()),
            past + absl::Seconds(30));
  // (294 + 20) / 500 correct.
  EXPECT_DOUBLE_EQ(ncs[0].evidence().value().value(), 314.0 / 500);
  EXPECT_EQ(ncs[0].evidence().found_by(), "catch-up: late data");
  EXPECT_EQ(s.State("accuracy").state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_DOUBLE_EQ(s.State("accuracy").last_value().value(), 0.98);
  EXPECT_DOUBLE_EQ(ExportedValue(s), 0.98);
}

constexpr char kCoveragePlan[] = R"(
coverage: {enabled: false}
objectives:
  - id: accuracy
    metric: accuracy
    comparator: ">="
    threshold: 0.9
    window: 10s
    decision: point
    min_samples: 30
    min_label_coverage: 0.8
)";

// A window with 20 % of its labels waits; once its late labels bring the
// coverage to 0.8 catch-up judges it (not before: at 50 % it still waits).
TEST(EvaluatorCatchUpTest, CoverageGateJudgesOnceLabelsArrive) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kCoveragePlan);
  uint64_t seq = 0;
  clock.Advance(absl::Seconds(10));
  const absl::Time w1 = clock.Now() - absl::Seconds(10);
  s.Store(clock, "pod-a", ++seq, w1, clock.Now(), Window(200, 40, 40));
  s.evaluator->OnWindowStored(Model(), w1, clock.Now(), WindowOrigin::kLive);
  s.evaluator->EvaluateDue();
  v1::ObjectiveStatus st = s.State("accuracy");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
  EXPECT_EQ(st.waiting_for(), "labels");
  EXPECT_EQ(st.last_value().sample_size(), 40u);

  for (int i = 0; i < 3; ++i) {
    clock.Advance(absl::Seconds(10));
    const absl::Time start = clock.Now() - absl::Seconds(10);
    s.Store(clock, "pod-a", ++seq, start, clock.Now(), Window(200, 200, 196));
    s.evaluator->OnWindowStored(Model(), start, clock.Now(),
                                WindowOrigin::kLive);
    s.evaluator->EvaluateDue();
  }
  st = s.State("accuracy");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_EQ(st.waiting_for(), "");

  // 60 wrong labels for w1: coverage 100/200, still waiting.
  s.Store(clock, "pod-a", ++seq, w1, w1 + absl::Seconds(10), Labels(60, 0));
  s.evaluator->OnWindowStored(Model(), w1, w1 + absl::Seconds(10),
                              WindowOrigin::kLate);
  clock.Advance(absl::Seconds(1));
  s.evaluator->EvaluateDue();
  EXPECT_TRUE(s.ncs->List({}).empty());

  // 100 more: 200/200 labelled, 40 right.
  s.Store(clock, "pod-a", ++seq, w1, w1 + absl::Seconds(10), Labels(100, 0));
  s.evaluator->OnWindowStored(Model(), w1, w1 + absl::Seconds(10),
                              WindowOrigin::kLate);
  clock.Advance(absl::Seconds(1));
  s.evaluator->EvaluateDue();
  std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 1u);
  EXPECT_EQ(FromProto(ncs[0].evidence().window_start()), w1);
  EXPECT_DOUBLE_EQ(ncs[0].evidence().value().value(), 0.2);
  EXPECT_EQ(ncs[0].evidence().value().sample_size(), 200u);
  EXPECT_EQ(ncs[0].evidence().found_by(), "catch-up: late data");
}

// The queue: touching spans merge, a chunk is clipped to the horizon, the
// watermark and its length, and what is left survives a restart.
TEST(CatchUpQueueTest, MergesClipsAndPersists) {
  testing::TempDir dir;
  FakeClock clock;
  const absl::Time t = clock.Now();
  {
    Stack s(dir.path(), &clock, kHourlyPlan);
    CatchUpQueue q(s.storage.get());
    ASSERT_TRUE(q.Load().ok());
    q.Note(Model(), t, t + absl::Hours(1), WindowOrigin::kLate);
    q.Note(Model(), t + absl::Hours(1), t + absl::Hours(2),
           WindowOrigin::kBackfill);
    q.Note(Model(), t + absl::Hours(5), t + absl::Hours(6),
           WindowOrigin::kLate);
    int dropped = 0;
    std::optional<CatchUpQueue::Span> next =
        q.Next(Model(), t - absl::Hours(1), t + absl::Hours(10),
               absl::Minutes(90), &dropped);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->from, t);
    EXPECT_EQ(next->to, t + absl::Minutes(90));
    EXPECT_TRUE(next->backfilled);
    EXPECT_EQ(dropped, 0);
    q.Done(Model(), *next);
    ASSERT_TRUE(q.Persist().ok());
  }
  Stack s(dir.path(), &clock, kHourlyPlan);
  CatchUpQueue q(s.storage.get());
  ASSERT_TRUE(q.Load().ok());
  ASSERT_EQ(q.Models().size(), 1u);
  int dropped = 0;
  // The horizon cuts the first span short; the watermark holds back the
  // second.
  std::optional<CatchUpQueue::Span> next =
      q.Next(Model(), t + absl::Minutes(100), t + absl::Hours(5),
             absl::Hours(10), &dropped);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->from, t + absl::Minutes(100));
  EXPECT_EQ(next->to, t + absl::Hours(2));
  EXPECT_EQ(dropped, 1);
  q.Done(Model(), *next);
  EXPECT_FALSE(q.Next(Model(), t + absl::Minutes(100), t + absl::Hours(5),
                      absl::Hours(10), &dropped)
                   .has_value());
  next = q.Next(Model(), t, t + absl::Hours(7), absl::Hours(10), &dropped);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->from, t + absl::Hours(5));
  EXPECT_FALSE(next->backfilled);
}

}  // namespace
}  // namespace aims::collector

// The evaluator, nonconformity lifecycle and audit trail on a real RocksDB in
// a temp dir, with a FakeClock (no sleeps).
#include "collector/evaluation/evaluator.h"

#include <map>
#include <memory>

#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/collector/compliance/audit_tamper.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// Decided on the point value: these tests follow the state machine.
constexpr char kPlan[] = R"(
coverage: {enabled: false}
defaults: {window: 30s, evaluation_interval: 10s, min_samples: 50,
           decision: point}
objectives:
  - id: parity
    metric: demographic_parity_ratio
    attribute: gender
    comparator: ">="
    threshold: 0.8
    for: 20s
    keep_firing_for: 40s
    effectiveness_period: 1h
  - id: accuracy-needs-more
    metric: accuracy
    comparator: ">="
    threshold: 0.5
    min_samples: 100000
)";

TEST(EvaluatorTest, PendingFiringResolvedWithNonconformityAndRecurrence) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.6);  // fair
  EXPECT_EQ(s.evaluator->EvaluateDue(), 2);
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_DOUBLE_EQ(s.State("parity").last_value().value(), 1.0);
  // Too few samples: never passing, never firing.
  EXPECT_EQ(s.State("accuracy-needs-more").state(),
            v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);

  // Women selected at 0.3 against 0.6: ratio 0.5 once the fair window ages out.
  clock.Advance(absl::Seconds(30));
  s.Report(&clock, 0.3);
  // Not due yet: evaluated at most every 10 s.
  EXPECT_EQ(s.evaluator->EvaluateDue(), 2);
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_PENDING);
  EXPECT_DOUBLE_EQ(s.State("parity").last_value().value(), 0.5);
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);
  clock.Advance(absl::Seconds(5));
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("parity").state(),
            v1::OBJECTIVE_STATE_PENDING);  // 10 s < for 20 s
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  const v1::ObjectiveStatus firing = s.State("parity");
  ASSERT_EQ(firing.state(), v1::OBJECTIVE_STATE_FIRING);
  ASSERT_EQ(firing.nonconformity_id(), "NC-000001");

  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_TRUE(nc.ok());
  EXPECT_EQ(nc->stage(), v1::NONCONFORMITY_STAGE_OPEN);
  EXPECT_EQ(nc->objective_id(), "parity");
  EXPECT_EQ(nc->series(), "credit/v1/prod attribute=gender");
  EXPECT_DOUBLE_EQ(nc->evidence().value().value(), 0.5);
  EXPECT_EQ(nc->evidence().comparator(), ">=");
  EXPECT_DOUBLE_EQ(nc->evidence().threshold(), 0.8);
  // The last 30 s hold reports 2-4: 300 events per group.
  EXPECT_EQ(nc->evidence().value().sample_size(), 300u);
  EXPECT_FALSE(std::isnan(nc->evidence().value().ci_low()));
  ASSERT_EQ(nc->evidence().report_ids_size(), 1);
  EXPECT_EQ(nc->evidence().report_ids(0), "pod-a/2-4");
  EXPECT_EQ(nc->plan_version().size(), 64u);

  // Fair again: firing holds for keep_firing_for (40 s), then resolves; the
  // nonconformity is auto-resolved but stays open for people.
  clock.Advance(absl::Seconds(30));
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_RESOLVED);
  nc = s.ncs->Get("NC-000001");
  EXPECT_TRUE(nc->auto_resolved());
  EXPECT_EQ(nc->stage(), v1::NONCONFORMITY_STAGE_OPEN);

  // It recurs before anyone closed it: the same nonconformity, 2 occurrences.
  clock.Advance(absl::Seconds(30));
  s.Report(&clock, 0.2);
  s.evaluator->EvaluateDue();
  clock.Advance(absl::Seconds(20));
  s.Report(&clock, 0.2);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  nc = s.ncs->Get("NC-000001");
  EXPECT_EQ(nc->occurrences(), 2u);
  EXPECT_FALSE(nc->auto_resolved());
  EXPECT_EQ(s.ncs->List({}).size(), 1u);

  const v1::VerifyAuditResponse verify = s.audit->Verify();
  EXPECT_TRUE(verify.intact()) << verify.detail();
  EXPECT_GE(verify.records_checked(),
            8u);  // plan, state changes, opened, resolved, recurrence
}

TEST(EvaluatorTest, PendingProgressSurvivesRestart) {
  testing::TempDir dir;
  FakeClock clock;
  {
    Stack s(dir.path(), &clock, kPlan);
    s.Report(&clock, 0.3);
    s.evaluator->EvaluateDue();
    EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_PENDING);
  }
  clock.Advance(absl::Seconds(20));
  Stack s(dir.path(), &clock, kPlan);  // same plan: state kept
  s.sequence = 1;
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  // Pending since before the restart, so `for` (20 s) has elapsed.
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_EQ(s.ncs->List({}).size(), 1u);
}

TEST(EvaluatorTest, ChangedObjectiveStartsOverOnReload) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_PENDING);
  std::string changed = kPlan;
  changed.replace(changed.find("threshold: 0.8"), 14, "threshold: 0.4");
  absl::StatusOr<Plan> plan = ParsePlan(changed, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<int> unchanged = s.evaluator->SetPlan(*plan, "SIGHUP");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(*unchanged, 1);  // accuracy-needs-more kept its state
  EXPECT_TRUE(s.evaluator->States({}).size() == 1u);
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.State("parity").state(),
            v1::OBJECTIVE_STATE_INACTIVE);  // 0.5 >= 0.4
  // Both plan versions are on record, and the end of the old series.
  int plan_records = 0, dropped_records = 0;
  for (const v1::AuditRecord& r : s.audit->List(0, 1000)) {
    plan_records += r.kind() == "plan_version";
    dropped_records +=
        r.kind() == "objective_state" &&
        r.body().find(R"("reason":"objective changed by a new plan")") !=
            std::string::npos &&
        r.body().find(R"("to":"unevaluated")") != std::string::npos;
  }
  EXPECT_EQ(plan_records, 2);
  EXPECT_EQ(dropped_records, 1);
}

// Reloading a plan that changes a firing objective resolves its alert at
// once (the series is no longer evaluated); the nonconformity stays open.
TEST(EvaluatorTest, ReloadResolvesTheAlertOfAChangedFiringObjective) {
  testing::TempDir dir;
  FakeClock clock;
  NotifierOptions notifications;
  notifications.alertmanager_urls = {"http://127.0.0.1:1"};  // never answers
  Stack s(dir.path(), &clock, kPlan, notifications);
  for (int i = 0; i < 3; ++i) {
    s.Report(&clock, 0.3);
    s.evaluator->EvaluateDue();
    clock.Advance(absl::Seconds(10));
  }
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  ASSERT_EQ(s.notifier->depth(), 1u);
  std::string changed = kPlan;
  changed.replace(changed.find("threshold: 0.8"), 14, "threshold: 0.4");
  absl::StatusOr<Plan> plan = ParsePlan(changed, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(s.evaluator->SetPlan(*plan, "SIGHUP").ok());
  EXPECT_EQ(s.notifier->depth(), 2u);
  s.notifier->DeliverDue();  // fails, and drops the replaced alert
  EXPECT_EQ(s.notifier->depth(), 1u);
  EXPECT_EQ(s.notifier->counters().superseded.load(), 1u);
  std::string body;
  ASSERT_TRUE(s.storage
                  ->Scan(Table::kOutbox, "",
                         [&](absl::string_view, absl::string_view value) {
                           v1::OutboxEntry e;
                           e.ParseFromArray(value.data(),
                                            static_cast<int>(value.size()));
                           body = e.body();
                           return true;
                         })
                  .ok());
  EXPECT_NE(body.find(absl::StrCat(R"("endsAt":")", FormatRfc3339(clock.Now()),
                                   "\"")),
            std::string::npos)
      << body;
  EXPECT_EQ(s.ncs->Get("NC-000001")->stage(), v1::NONCONFORMITY_STAGE_OPEN);
}

// Advances 10 s at a time, reporting windows with group f selected at
// `f_rate`, until the parity objective reaches `state` (at most 20 steps).
void RunUntil(Stack& s, FakeClock& clock, double f_rate,
              v1::ObjectiveState state) {
  for (int i = 0; i < 20 && s.State("parity").state() != state; ++i) {
    clock.Advance(absl::Seconds(10));
    s.Report(&clock, f_rate);
    s.evaluator->EvaluateDue();
  }
  ASSERT_EQ(s.State("parity").state(), state);
}

TEST(EvaluatorTest, RecurrenceAfterActionReopensAndCloseWaitsForTheObjective) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  RunUntil(s, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  auto step = [&](v1::NonconformityStage to, const std::string& comment) {
    v1::TransitionRequest r;
    r.set_id("NC-000001");
    r.set_to(to);
    r.set_actor("ana");
    r.set_comment(comment);
    return s.evaluator->Transition(r);
  };
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED, "").ok());
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "threshold").ok());
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_ACTION_RECORDED, "moved it").ok());
  RunUntil(s, clock, 0.6, v1::OBJECTIVE_STATE_RESOLVED);
  // The breach comes back: the action did not hold.
  RunUntil(s, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_TRUE(nc.ok());
  EXPECT_EQ(nc->stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  EXPECT_EQ(nc->occurrences(), 2u);
  const v1::Transition& reopened = nc->history(nc->history_size() - 1);
  EXPECT_EQ(reopened.from(), v1::NONCONFORMITY_STAGE_ACTION_RECORDED);
  EXPECT_EQ(reopened.to(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  EXPECT_EQ(reopened.actor(), "aims");
  EXPECT_NE(reopened.comment().find("the corrective action did not hold"),
            std::string::npos)
      << reopened.comment();
  // Worked through again and reviewed after an hour of holding...
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "drift").ok());
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_ACTION_RECORDED, "retrained").ok());
  RunUntil(s, clock, 0.6, v1::OBJECTIVE_STATE_RESOLVED);
  for (int i = 0; i < 61; ++i) {
    clock.Advance(absl::Minutes(1));
    s.Report(&clock, 0.6);
    s.evaluator->EvaluateDue();
  }
  ASSERT_TRUE(
      step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "held").ok());
  // ...but it breaches again before closure: closing is refused.
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_PENDING);
  EXPECT_EQ(step(v1::NONCONFORMITY_STAGE_CLOSED, "done").status().message(),
            "the objective is breached now (credit/v1/prod "
            "attribute=gender); it cannot be closed while it fails");
  RunUntil(s, clock, 0.6, v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_TRUE(step(v1::NONCONFORMITY_STAGE_CLOSED, "done").ok());
}

// The alert's lease is renewed every minute even when the objective is
// evaluated only every 5 minutes; renewals waiting for delivery replace one
// another, so the outbox holds one message per alert.
TEST(EvaluatorTest, LeaseRenewedEveryMinuteWhateverTheInterval) {
  testing::TempDir dir;
  FakeClock clock;
  NotifierOptions notifications;
  notifications.alertmanager_urls = {"http://127.0.0.1:1"};  // never answers
  Stack s(dir.path(), &clock, R"(
coverage: {enabled: false}
objectives:
  - {id: parity, metric: demographic_parity_ratio, attribute: gender,
     comparator: ">=", threshold: 0.8, window: 10m, evaluation_interval: 5m}
)",
          notifications);
  s.Report(&clock, 0.3);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 1);
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_EQ(s.notifier->depth(), 1u);
  auto ends_at = [&] {
    std::string ends;
    EXPECT_TRUE(s.storage
                    ->Scan(Table::kOutbox, "",
                           [&](absl::string_view, absl::string_view value) {
                             v1::OutboxEntry e;
                             e.ParseFromArray(value.data(),
                                              static_cast<int>(value.size()));
                             const size_t at = e.body().find("\"endsAt\":\"");
                             ends = e.body().substr(at + 10, 24);
                             return true;
                           })
                    .ok());
    return ends;
  };
  const std::string first = ends_at();
  for (int minute = 1; minute <= 4; ++minute) {
    clock.Advance(absl::Minutes(1));
    EXPECT_EQ(s.evaluator->EvaluateDue(), 0) << "not due at minute " << minute;
    EXPECT_EQ(s.notifier->depth(), 2u);
    s.notifier->DeliverDue();  // fails, and drops the older renewal
    EXPECT_EQ(s.notifier->depth(), 1u);
    EXPECT_EQ(s.notifier->counters().superseded.load(),
              static_cast<uint64_t>(minute));
  }
  // The lease (4 x 5 min) now ends four minutes later than the first one.
  absl::Time t1, t2;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, first, &t1, &err)) << first;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, ends_at(), &t2, &err));
  EXPECT_EQ(t2 - t1, absl::Minutes(4));
}

// New data makes its model's objectives due at once (at most once a
// second), whatever their evaluation interval.
TEST(EvaluatorTest, NewDataTriggersEvaluation) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, R"(
coverage: {enabled: false}
objectives:
  - {id: parity, model: {name: credit}, metric: demographic_parity_ratio,
     attribute: gender, comparator: ">=", threshold: 0.8, window: 10m,
     evaluation_interval: 5m, decision: point}
)");
  s.Report(&clock, 0.6);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 1);
  clock.Advance(absl::Seconds(5));
  s.Report(&clock, 0.3);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);  // not due, nobody said so
  v1::ModelRef other = Model();
  other.set_name("fraud");
  s.evaluator->OnNewData(other);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);  // another model's data
  s.evaluator->OnNewData(Model());
  EXPECT_EQ(s.evaluator->EvaluateDue(), 1);
  EXPECT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  // Within a second of that evaluation, new data waits for the next one.
  clock.Advance(absl::Milliseconds(500));
  s.Report(&clock, 0.6);
  s.evaluator->OnNewData(Model());
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);
  clock.Advance(absl::Milliseconds(500));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 1);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 0);
}

// An objective whose feature or attribute never shows up (absent data, or a
// misspelt name) is judged "insufficient evidence", never silently absent.
TEST(EvaluatorTest, ObjectiveWithoutMatchingDataHasInsufficientEvidence) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, R"(
coverage: {enabled: false}
objectives:
  - {id: drift, metric: psi, feature: incme, comparator: "<=", threshold: 0.2}
  - {id: parity, metric: demographic_parity_ratio, attribute: gendr,
     comparator: ">=", threshold: 0.8}
  - {id: every-feature, metric: psi, comparator: "<=", threshold: 0.2}
)");
  s.Report(&clock, 0.3);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 2);  // "every-feature" has none
  v1::ObjectiveStatus drift = s.State("drift");
  EXPECT_EQ(drift.series(), "credit/v1/prod feature=incme");
  EXPECT_EQ(drift.state(), v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
  v1::ObjectiveStatus parity = s.State("parity");
  EXPECT_EQ(parity.series(), "credit/v1/prod attribute=gendr");
  EXPECT_EQ(parity.state(), v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
  EXPECT_TRUE(s.ncs->List({}).empty());
}

// The built-in coverage objectives: a silent model and agent, windows an
// agent declared lost, and a missing reference profile each open a
// nonconformity with their evidence, and recover when fixed.
TEST(EvaluatorTest, CoverageObjectivesRaiseNonconformities) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, "coverage: {silent_after: 1m}\n");
  s.Report(&clock, 0.6);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 4);
  EXPECT_EQ(s.State("coverage.model-silent").state(),
            v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_EQ(s.State("coverage.agent-silent").state(),
            v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_EQ(s.State("coverage.missing-windows").state(),
            v1::OBJECTIVE_STATE_INACTIVE);
  // No profile yet: pending for `silent_after` while a reference may form.
  EXPECT_EQ(s.State("coverage.profile-missing").state(),
            v1::OBJECTIVE_STATE_PENDING);

  // 70 s of silence: model and agent silent, still no profile.
  clock.Advance(absl::Seconds(70));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 4);
  // Then the agent declares windows 5-7 lost (a gap notice is also a sign
  // of life, so the silence ends).
  v1::GapNotice gap;
  gap.set_agent_id("pod-a");
  gap.set_first_sequence(5);
  gap.set_last_sequence(7);
  *gap.mutable_window_start() = ToProto(clock.Now() - absl::Seconds(30));
  *gap.mutable_window_end() = ToProto(clock.Now());
  gap.set_reason("spool_full");
  ASSERT_TRUE(s.storage->RecordGap(gap, clock.Now()).ok());
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(s.evaluator->EvaluateDue(), 4);
  std::map<std::string, v1::Nonconformity> by_objective;
  for (const v1::Nonconformity& nc : s.ncs->List({}))
    by_objective[nc.objective_id()] = nc;
  ASSERT_EQ(by_objective.size(), 4u);
  EXPECT_EQ(by_objective["coverage.model-silent"].evidence().value().value(),
            70);
  EXPECT_EQ(by_objective["coverage.agent-silent"].series(),
            "credit/v1/prod slot=1");
  EXPECT_EQ(by_objective["coverage.agent-silent"].evidence().threshold(), 60);
  EXPECT_EQ(by_objective["coverage.missing-windows"].evidence().value().value(),
            3);
  ASSERT_EQ(
      by_objective["coverage.missing-windows"].evidence().report_ids_size(), 1);
  EXPECT_EQ(by_objective["coverage.missing-windows"].evidence().report_ids(0),
            "pod-a/5-7 (lost: spool_full)");
  EXPECT_EQ(by_objective["coverage.profile-missing"].evidence().value().value(),
            0);
  for (const auto& [id, nc] : by_objective) {
    EXPECT_EQ(nc.severity(), v1::SEVERITY_CRITICAL) << id;
  }
  EXPECT_EQ(s.State("coverage.model-silent").state(),
            v1::OBJECTIVE_STATE_RESOLVED);
  EXPECT_EQ(s.State("coverage.agent-silent").state(),
            v1::OBJECTIVE_STATE_RESOLVED);

  // A profile is stored: it recovers; the lost windows stay on record while
  // they are inside the objective's window.
  v1::ReferenceProfile profile;
  *profile.mutable_model() = Model();
  bool created = false;
  ASSERT_TRUE(s.storage->PutProfile(profile, false, &created).ok());
  clock.Advance(absl::Seconds(30));
  s.Report(&clock, 0.6);
  EXPECT_EQ(s.evaluator->EvaluateDue(), 4);
  EXPECT_EQ(s.State("coverage.profile-missing").state(),
            v1::OBJECTIVE_STATE_RESOLVED);
  EXPECT_EQ(s.State("coverage.missing-windows").state(),
            v1::OBJECTIVE_STATE_FIRING);
}

TEST(EvaluatorTest, LifecycleStepsInOrderByPeopleWithEffectivenessReview) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  for (int i = 0; i < 3; ++i) {
    s.Report(&clock, 0.3);
    s.evaluator->EvaluateDue();
    clock.Advance(absl::Seconds(10));
  }
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  auto step = [&](v1::NonconformityStage to, const std::string& actor,
                  const std::string& comment) {
    v1::TransitionRequest r;
    r.set_id("NC-000001");
    r.set_to(to);
    r.set_actor(actor);
    r.set_comment(comment);
    return s.evaluator->Transition(r);
  };
  EXPECT_EQ(
      step(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED, "", "").status().message(),
      "actor: every step of a nonconformity is made by a named person (not "
      "empty, not "
      "'aims')");
  EXPECT_EQ(step(v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "ana", "x")
                .status()
                .message(),
            "NC-000001 is open; the next step is 'ack' (to acknowledged), not "
            "cause_analysed (or end it as invalid or risk_accepted)");
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED, "ana", "").ok());
  EXPECT_EQ(step(v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "ana", "")
                .status()
                .message(),
            "comment: required for cause_analysed (the causes found)");
  ASSERT_TRUE(
      step(v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "ana", "score shifted for f")
          .ok());
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_ACTION_RECORDED, "bo",
                   "recalibrated per group")
                  .ok());
  // Review too early: the objective must hold for the effectiveness period.
  absl::Status early =
      step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "cy", "ok").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(early));
  EXPECT_NE(
      early.message().find("must hold for 1h after the corrective action"),
      std::string::npos)
      << early.message();
  // An hour later but still breached: not effective.
  clock.Advance(absl::Hours(1));
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  absl::Status breached =
      step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "cy", "ok").status();
  EXPECT_NE(breached.message().find("is breached now"), std::string::npos)
      << breached.message();
  // Fixed: fair traffic, resolved, an hour without breach.
  clock.Advance(absl::Seconds(40));
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  ASSERT_EQ(s.State("parity").state(), v1::OBJECTIVE_STATE_RESOLVED);
  absl::Status recent =
      step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "cy", "ok").status();
  EXPECT_NE(recent.message().find(
                "after the corrective action; it must hold for 1h from then"),
            std::string::npos)
      << recent.message();
  // Keep it healthy for the period, re-planning the window each evaluation.
  for (int i = 0; i < 61; ++i) {
    clock.Advance(absl::Minutes(1));
    s.Report(&clock, 0.6);
    s.evaluator->EvaluateDue();
  }
  ASSERT_TRUE(
      step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "cy", "held for 1h")
          .ok());
  ASSERT_TRUE(step(v1::NONCONFORMITY_STAGE_CLOSED, "cy", "effective").ok());
  EXPECT_EQ(
      step(v1::NONCONFORMITY_STAGE_CLOSED, "cy", "again").status().message(),
      "NC-000001 is closed; its record is final");
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_EQ(nc->stage(), v1::NONCONFORMITY_STAGE_CLOSED);
  std::vector<std::string> actors;
  for (const v1::Transition& t : nc->history()) {
    if (t.from() != t.to()) actors.push_back(t.actor());
  }
  EXPECT_EQ(actors,
            (std::vector<std::string>{"aims", "ana", "ana", "bo", "cy", "cy"}));

  // A recurrence after closure opens a new nonconformity linked to it.
  clock.Advance(absl::Minutes(1));
  for (int i = 0; i < 3; ++i) {
    s.Report(&clock, 0.3);
    s.evaluator->EvaluateDue();
    clock.Advance(absl::Seconds(10));
  }
  absl::StatusOr<v1::Nonconformity> again = s.ncs->Get("NC-000002");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->recurrence_of(), "NC-000001");
}

TEST(EvaluatorTest, AuditVerifyNamesTheFirstEditedRecord) {
  testing::TempDir dir;
  FakeClock clock;
  {
    Stack s(dir.path(), &clock, kPlan);
    for (int i = 0; i < 3; ++i) {
      s.Report(&clock, 0.3);
      s.evaluator->EvaluateDue();
      clock.Advance(absl::Seconds(10));
    }
    const v1::VerifyAuditResponse ok = s.audit->Verify();
    ASSERT_TRUE(ok.intact());
    ASSERT_GE(ok.records_checked(), 4u);
  }
  // Edit record 3 in RocksDB directly, as an intruder with disk access would.
  ASSERT_TRUE(TamperWithAuditRecord(dir.path(), 3, "someone-else").ok());
  Stack s(dir.path(), &clock, kPlan);
  const v1::VerifyAuditResponse broken = s.audit->Verify();
  EXPECT_FALSE(broken.intact());
  EXPECT_EQ(broken.first_broken_index(), 3u);
  EXPECT_EQ(broken.records_checked(), 2u);
  EXPECT_EQ(broken.detail(), "content does not match its hash (record edited)");
}

// Windows binned on another profile than the stored one: drift is not
// applicable, and that is counted per evaluation pass and model version.
TEST(EvaluatorTest, ProfileMismatchIsCounted) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.6);  // binned on no profile
  s.evaluator->EvaluateDue();
  EXPECT_TRUE(s.evaluator->ProfileMismatches().empty());  // none stored
  v1::ReferenceProfile profile;
  *profile.mutable_model() = Model();
  profile.set_profile_id("p1");
  bool created = false;
  ASSERT_TRUE(s.storage->PutProfile(profile, false, &created).ok());
  clock.Advance(absl::Seconds(10));
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  using Counts = std::map<std::pair<std::string, std::string>, uint64_t>;
  EXPECT_EQ(s.evaluator->ProfileMismatches(), (Counts{{{"credit", "v1"}, 1}}));
}

}  // namespace
}  // namespace aims::collector

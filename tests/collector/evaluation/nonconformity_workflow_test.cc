// The nonconformity workflow beside the 10.2 steps: the endings invalid and
// risk accepted, owner / due date / ticket updates, due dates from the plan,
// risk acceptances that reopen on the evaluation tick, and one record per
// drift episode. Real RocksDB in a temp dir, FakeClock (no sleeps).
#include <map>
#include <memory>
#include <random>

#include "collector/evaluation/evaluator.h"
#include "common/base/time_util.h"
#include "common/summary/profile_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Fires on the first breach (for: 0) so that every report can open a record.
constexpr char kPlan[] = R"(
coverage: {enabled: false}
nonconformity_due: {warning: 2d}
defaults: {window: 10s, evaluation_interval: 10s, min_samples: 50,
           decision: point}
objectives:
  - {id: parity, metric: demographic_parity_ratio, attribute: gender,
     comparator: ">=", threshold: 0.8, effectiveness_period: 0s}
)";

// The registry on its own, with records opened by hand.
struct Registry {
  explicit Registry(const std::string& dir) {
    RocksStorageOptions options;
    options.path = dir;
    options.sync_writes = false;
    storage = std::move(*RocksStorage::Open(options));
    audit = std::make_unique<AuditTrail>(storage.get(), &clock);
    EXPECT_TRUE(audit->Load().ok());
    ncs = std::make_unique<Nonconformities>(storage.get(), audit.get());
    EXPECT_TRUE(ncs->Load().ok());
    objective.id = "parity";
    objective.title = "Parity";
    plan.version = "v";
  }

  // A new record (its own series).
  std::string Open() {
    v1::ObjectiveStatus status;
    *status.mutable_model() = Model();
    status.set_series(absl::StrCat("credit/v1/prod n=", ++opened));
    absl::StatusOr<v1::Nonconformity> nc = ncs->OnFiring(
        objective, plan, status, v1::Evidence(), clock.Now(), {}, {}, nullptr);
    EXPECT_TRUE(nc.ok()) << nc.status();
    return nc.ok() ? nc->id() : "";
  }

  absl::StatusOr<v1::Nonconformity> Step(
      const std::string& id, v1::NonconformityStage to,
      const std::string& comment = "done",
      absl::Time until = absl::InfinitePast()) {
    v1::TransitionRequest r;
    r.set_id(id);
    r.set_to(to);
    r.set_actor("ana");
    r.set_comment(comment);
    if (until != absl::InfinitePast())
      *r.mutable_accepted_until() = ToProto(until);
    // No series: effectiveness needs only the (zero) period.
    return ncs->Transition(r, clock.Now(), nullptr, absl::ZeroDuration(),
                           nullptr);
  }

  FakeClock clock;
  std::unique_ptr<RocksStorage> storage;
  std::unique_ptr<AuditTrail> audit;
  std::unique_ptr<Nonconformities> ncs;
  Objective objective;
  Plan plan;
  int opened = 0;
};

constexpr v1::NonconformityStage kStages[] = {
    v1::NONCONFORMITY_STAGE_OPEN,
    v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
    v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
    v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
    v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED,
    v1::NONCONFORMITY_STAGE_CLOSED,
    v1::NONCONFORMITY_STAGE_INVALID,
    v1::NONCONFORMITY_STAGE_RISK_ACCEPTED};

// Every stage against every target: the next 10.2 step, or one of the two
// endings from any stage before closed; nothing after closed, invalid or
// risk accepted.
TEST(NonconformityWorkflowTest, TransitionTable) {
  testing::TempDir dir;
  Registry r(dir.path());
  const absl::Time until = r.clock.Now() + absl::Hours(24 * 30);
  for (v1::NonconformityStage from : kStages) {
    for (v1::NonconformityStage to : kStages) {
      if (to == v1::NONCONFORMITY_STAGE_OPEN) continue;
      SCOPED_TRACE(absl::StrCat(StageName(from), " -> ", StageName(to)));
      const std::string id = r.Open();
      // Walk to `from`.
      if (from == v1::NONCONFORMITY_STAGE_INVALID ||
          from == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED) {
        ASSERT_TRUE(r.Step(id, from, "ending", until).ok());
      } else {
        for (int s = v1::NONCONFORMITY_STAGE_ACKNOWLEDGED; s <= from; ++s) {
          ASSERT_TRUE(r.Step(id, static_cast<v1::NonconformityStage>(s)).ok());
        }
      }
      const bool ended = IsEnding(from);
      const bool allowed =
          !ended && (to == from + 1 || to == v1::NONCONFORMITY_STAGE_INVALID ||
                     to == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED);
      absl::StatusOr<v1::Nonconformity> nc = r.Step(id, to, "why", until);
      EXPECT_EQ(nc.ok(), allowed) << nc.status();
      if (allowed) {
        EXPECT_EQ(nc->stage(), to);
      } else {
        EXPECT_TRUE(absl::IsFailedPrecondition(nc.status())) << nc.status();
      }
    }
  }
}

// Refusals a compliance officer can read, and what the endings record.
TEST(NonconformityWorkflowTest, EndingsNeedReasonAndFutureDate) {
  testing::TempDir dir;
  Registry r(dir.path());
  const std::string id = r.Open();
  EXPECT_EQ(r.Step(id, v1::NONCONFORMITY_STAGE_INVALID, "").status().message(),
            "comment: required for invalid (why it is not a real breach)");
  EXPECT_EQ(r.Step(id, v1::NONCONFORMITY_STAGE_RISK_ACCEPTED, "low impact")
                .status()
                .message(),
            "accepted_until: required for risk_accepted (until when the risk "
            "is accepted)");
  EXPECT_THAT(std::string(r.Step(id, v1::NONCONFORMITY_STAGE_RISK_ACCEPTED,
                                 "low impact", r.clock.Now())
                              .status()
                              .message()),
              HasSubstr("is not in the future"));
  const absl::Time until = r.clock.Now() + absl::Hours(24 * 7);
  absl::StatusOr<v1::Nonconformity> accepted =
      r.Step(id, v1::NONCONFORMITY_STAGE_RISK_ACCEPTED, "low impact", until);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->risk_accepted_by(), "ana");
  EXPECT_EQ(FromProto(accepted->risk_accepted_until()), until);
  EXPECT_THAT(
      std::string(
          r.Step(id, v1::NONCONFORMITY_STAGE_ACKNOWLEDGED).status().message()),
      HasSubstr("is risk_accepted until"));

  const std::string other = r.Open();
  ASSERT_TRUE(r.Step(other, v1::NONCONFORMITY_STAGE_ACKNOWLEDGED).ok());
  ASSERT_TRUE(r.Step(other, v1::NONCONFORMITY_STAGE_INVALID,
                     "a test deployment, not production traffic")
                  .ok());
  EXPECT_EQ(r.Step(other, v1::NONCONFORMITY_STAGE_CLOSED).status().message(),
            absl::StrCat(other,
                         " was marked invalid (not a real breach); its "
                         "record is final"));
  // Both endings are on the audit trail with their reasons.
  std::vector<std::string> kinds;
  for (const v1::AuditRecord& a : r.audit->List(0, 100)) {
    if (a.kind() == "nc_transition" &&
        (a.body().find("\"to\":\"invalid\"") != std::string::npos ||
         a.body().find("\"to\":\"risk_accepted\"") != std::string::npos)) {
      kinds.push_back(a.body());
    }
  }
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_THAT(kinds[0], HasSubstr("\"accepted_until\""));
  EXPECT_THAT(kinds[1], HasSubstr("not production traffic"));
}

// Owner, due date and ticket link: each change on the history (with what
// changed) and the audit trail; bad values and empty updates refused.
TEST(NonconformityWorkflowTest, UpdatesAreRecorded) {
  testing::TempDir dir;
  Registry r(dir.path());
  const std::string id = r.Open();
  auto update = [&](auto set) {
    v1::UpdateNonconformityRequest u;
    u.set_id(id);
    u.set_actor("ana");
    set(&u);
    return r.ncs->Update(u, r.clock.Now(), nullptr);
  };
  EXPECT_THAT(
      std::string(update([](auto* u) { u->set_ticket_url("ftp://tracker/1"); })
                      .status()
                      .message()),
      HasSubstr("is not an http(s) URL"));
  EXPECT_FALSE(update([](auto* u) {
                 u->set_ticket_url("https://tracker.example/a b");
               }).ok());
  EXPECT_EQ(update([](auto*) {}).status().message(),
            "nothing to change: give an owner, due_at or ticket_url that "
            "differs from the record's");
  const absl::Time due = r.clock.Now() + absl::Hours(48);
  absl::StatusOr<v1::Nonconformity> nc = update([&](auto* u) {
    u->set_owner("bo");
    *u->mutable_due_at() = ToProto(due);
    u->set_ticket_url("https://tracker.example/browse/AIMS-7");
    u->set_comment("handed over");
  });
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->owner(), "bo");
  EXPECT_EQ(FromProto(nc->due_at()), due);
  EXPECT_EQ(nc->ticket_url(), "https://tracker.example/browse/AIMS-7");
  std::vector<std::string> changes;
  for (const v1::Transition& t : nc->history()) {
    if (!t.change().empty()) {
      changes.push_back(t.change());
      EXPECT_EQ(t.from(), t.to());
      EXPECT_EQ(t.actor(), "ana");
      EXPECT_THAT(t.comment(), HasSubstr("handed over"));
    }
  }
  EXPECT_THAT(changes, ElementsAre("owner", "due_at", "ticket_url"));
  int audited = 0;
  for (const v1::AuditRecord& a : r.audit->List(0, 100))
    audited += a.kind() == "nc_update";
  EXPECT_EQ(audited, 3);
  // Survives a restart.
  Nonconformities reloaded(r.storage.get(), r.audit.get());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.Get(id)->owner(), "bo");
  // A closed record is final.
  for (int s = v1::NONCONFORMITY_STAGE_ACKNOWLEDGED;
       s <= v1::NONCONFORMITY_STAGE_CLOSED; ++s) {
    ASSERT_TRUE(r.Step(id, static_cast<v1::NonconformityStage>(s)).ok());
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(
      update([](auto* u) { u->set_owner("cy"); }).status()));
}

// The plan's due period for the severity sets due_at; a record is overdue
// from then until its corrective action is recorded.
TEST(NonconformityWorkflowTest, DueDateFromPlanAndOverdue) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->severity(), v1::SEVERITY_WARNING);
  EXPECT_EQ(FromProto(nc->due_at()),
            FromProto(nc->opened_at()) + absl::Hours(48));
  EXPECT_FALSE(IsOverdue(*nc, clock.Now() + absl::Hours(47)));
  EXPECT_TRUE(IsOverdue(*nc, clock.Now() + absl::Hours(48)));
  for (v1::NonconformityStage to : {v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
                                    v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
                                    v1::NONCONFORMITY_STAGE_ACTION_RECORDED}) {
    v1::TransitionRequest r;
    r.set_id("NC-000001");
    r.set_to(to);
    r.set_actor("ana");
    r.set_comment("done");
    ASSERT_TRUE(s.evaluator->Transition(r).ok());
  }
  EXPECT_FALSE(
      IsOverdue(*s.ncs->Get("NC-000001"), clock.Now() + absl::Hours(48)));
}

// A risk acceptance reopens, on record, on the first evaluation after its
// date, to the stage it was accepted from.
TEST(NonconformityWorkflowTest, RiskAcceptanceReopensWhenItsDatePasses) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.3);
  s.evaluator->EvaluateDue();
  v1::TransitionRequest r;
  r.set_id("NC-000001");
  r.set_actor("ana");
  r.set_to(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  ASSERT_TRUE(s.evaluator->Transition(r).ok());
  r.set_to(v1::NONCONFORMITY_STAGE_RISK_ACCEPTED);
  r.set_comment("a retraining is planned for next month");
  *r.mutable_accepted_until() = ToProto(clock.Now() + absl::Hours(24));
  ASSERT_TRUE(s.evaluator->Transition(r).ok());

  clock.Advance(absl::Hours(23));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(s.ncs->Get("NC-000001")->stage(),
            v1::NONCONFORMITY_STAGE_RISK_ACCEPTED);
  clock.Advance(absl::Hours(1));
  s.evaluator->EvaluateDue();
  absl::StatusOr<v1::Nonconformity> nc = s.ncs->Get("NC-000001");
  EXPECT_EQ(nc->stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  EXPECT_FALSE(nc->has_risk_accepted_until());
  const v1::Transition& last = *nc->history().rbegin();
  EXPECT_EQ(last.actor(), "aims");
  EXPECT_EQ(last.from(), v1::NONCONFORMITY_STAGE_RISK_ACCEPTED);
  EXPECT_THAT(last.comment(), HasSubstr("the risk acceptance by ana ended"));
  int reopened = 0;
  for (const v1::AuditRecord& a : s.audit->List(0, 1000))
    reopened += a.kind() == "nc_risk_reopened";
  EXPECT_EQ(reopened, 1);
  EXPECT_TRUE(s.audit->Verify().intact());
}

// Categorical features city and tier; `drifted` ones take a single value
// instead of two equally likely ones.
Event DriftEvent(int i, bool city_drifted, bool tier_drifted) {
  Event e;
  e.prediction.kind = Outcome::Kind::kClass;
  e.prediction.class_label = "1";
  e.features.emplace_back(
      "city", FeatureValue{FeatureValue::Kind::kCategory, 0,
                           city_drifted || i % 2 ? "rome" : "paris"});
  e.features.emplace_back(
      "tier", FeatureValue{FeatureValue::Kind::kCategory, 0,
                           tier_drifted || i % 3 == 0 ? "gold" : "basic"});
  return e;
}

// A drift objective over every feature opens one record per breach episode
// listing the features; it auto-resolves once the last one holds again.
TEST(NonconformityWorkflowTest, DriftEpisodeIsOneNonconformityListingFeatures) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, R"(
coverage: {enabled: false}
defaults: {window: 10s, evaluation_interval: 10s, decision: point}
objectives:
  - {id: drift, metric: psi, comparator: "<=", threshold: 0.2,
     effectiveness_period: 0s}
)");
  ProfileBuilder builder{ProfileBuildOptions()};
  for (int i = 0; i < 600; ++i) builder.Add(DriftEvent(i, false, false));
  absl::StatusOr<v1::ReferenceProfile> profile =
      builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "reference");
  ASSERT_TRUE(profile.ok()) << profile.status();
  bool created = false;
  ASSERT_TRUE(s.storage->PutProfile(*profile, false, &created).ok());
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(*profile);
  auto window = [&](bool city, bool tier) {
    clock.Advance(absl::Seconds(10));
    WindowAccumulator acc(config);
    for (int i = 0; i < 600; ++i) acc.Add(DriftEvent(i, city, tier));
    s.Store(clock, "pod-a", ++s.sequence, clock.Now() - absl::Seconds(10),
            clock.Now(), acc.Build());
    s.evaluator->EvaluateDue();
  };
  window(false, false);
  EXPECT_TRUE(s.ncs->List({}).empty());
  window(true, false);
  window(true, true);
  std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 1u);
  EXPECT_EQ(ncs[0].series(), "credit/v1/prod");
  EXPECT_THAT(ncs[0].features(), ElementsAre("city", "tier"));
  EXPECT_EQ(ncs[0].occurrences(), 1u);
  // city holds again, tier still drifts: the episode goes on, and its
  // corrective action cannot be shown effective while tier is breached.
  window(false, true);
  EXPECT_FALSE(s.ncs->Get(ncs[0].id())->auto_resolved());
  auto step = [&](v1::NonconformityStage to) {
    v1::TransitionRequest r;
    r.set_id(ncs[0].id());
    r.set_to(to);
    r.set_actor("ana");
    r.set_comment("done");
    return s.evaluator->Transition(r);
  };
  for (v1::NonconformityStage to : {v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
                                    v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
                                    v1::NONCONFORMITY_STAGE_ACTION_RECORDED}) {
    ASSERT_TRUE(step(to).ok());
  }
  EXPECT_THAT(
      std::string(step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED)
                      .status()
                      .message()),
      HasSubstr("the objective is breached now (credit/v1/prod feature=tier)"));
  window(false, false);
  EXPECT_TRUE(s.ncs->Get(ncs[0].id())->auto_resolved());
  EXPECT_EQ(s.ncs->List({}).size(), 1u);
  EXPECT_TRUE(step(v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED).ok());
  // Each feature's series keeps its own state and names the record.
  int named = 0;
  for (const v1::ObjectiveStatus& st : s.evaluator->States({})) {
    if (st.feature() != "city" && st.feature() != "tier") continue;
    EXPECT_EQ(st.nonconformity_id(), ncs[0].id()) << st.series();
    ++named;
  }
  EXPECT_EQ(named, 2);
}

}  // namespace
}  // namespace aims::collector

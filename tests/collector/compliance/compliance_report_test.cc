// BuildComplianceReport on hand-made sources: the state accounting, trend, open
// items and plan versions are computed to the second and checked exactly.
#include "collector/compliance/compliance_report.h"

#include <tuple>

#include "absl/strings/match.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/canonical_json.h"
#include "collector/compliance/nonconformities.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

const absl::Time kFrom = absl::FromUnixSeconds(1'800'000'000);
const absl::Time kTo = kFrom + absl::Minutes(100);

v1::AuditRecord Record(absl::Time at, const std::string& kind,
                       const std::map<std::string, std::string>& fields,
                       const std::string& actor = "aims") {
  v1::AuditRecord r;
  *r.mutable_at() = ToProto(at);
  r.set_kind(kind);
  r.set_actor(actor);
  r.set_body(CanonicalJson(fields));
  return r;
}

v1::AuditRecord Change(absl::Duration after_from, const std::string& series,
                       const std::string& from, const std::string& to,
                       double value = 0.5) {
  return Record(kFrom + after_from, "objective_state",
                {{"objective", "parity"},
                 {"series", series},
                 {"from", from},
                 {"to", to},
                 {"value", absl::StrCat(value)},
                 {"sample_size", "400"}});
}

v1::Transition Step(absl::Duration after_from, v1::NonconformityStage from,
                    v1::NonconformityStage to, const std::string& comment,
                    const std::string& actor = "ana") {
  v1::Transition t;
  *t.mutable_at() = ToProto(kFrom + after_from);
  t.set_from(from);
  t.set_to(to);
  t.set_comment(comment);
  t.set_actor(actor);
  return t;
}

v1::Nonconformity Nc(const std::string& id, absl::Duration opened_after_from,
                     const std::string& model = "credit") {
  v1::Nonconformity nc;
  nc.set_id(id);
  nc.set_objective_id("parity");
  nc.set_series(model + "/v1/prod attribute=gender");
  nc.mutable_model()->set_name(model);
  nc.mutable_model()->set_version("v1");
  nc.mutable_model()->set_environment("prod");
  *nc.mutable_opened_at() = ToProto(kFrom + opened_after_from);
  nc.set_severity(v1::SEVERITY_CRITICAL);
  *nc.add_history() =
      Step(opened_after_from, v1::NONCONFORMITY_STAGE_UNSPECIFIED,
           v1::NONCONFORMITY_STAGE_OPEN, "opened", "aims");
  nc.set_stage(v1::NONCONFORMITY_STAGE_OPEN);
  return nc;
}

void Advance(v1::Nonconformity* nc, absl::Duration at,
             v1::NonconformityStage to, const std::string& comment) {
  *nc->add_history() = Step(at, nc->stage(), to, comment);
  nc->set_stage(to);
}

ComplianceReportSources Sources() {
  ComplianceReportSources s;
  s.collector_id = "collector-1";
  auto plan = std::make_shared<Plan>();
  Objective o;
  o.id = "parity";
  o.title = "Women and men are approved at similar rates";
  o.metric = "demographic_parity_ratio";
  o.attribute = "gender";
  o.comparator = Comparator::kGreaterEqual;
  o.threshold = 0.8;
  o.window = absl::Minutes(30);
  o.iso_references = {"9.1", "A.6.2.6"};
  o.what = "selection-rate ratio between gender groups";
  plan->objectives.push_back(o);
  s.plan = plan;
  const std::string f = "credit/v1/prod attribute=gender";
  const std::string g = "credit/v1/staging attribute=gender";
  s.audit = {
      Record(kFrom - absl::Hours(1), "plan_version",
             {{"version", "aaaa"}, {"objectives", "1"}}, "ops"),
      Change(-absl::Minutes(10), f, "unevaluated", "inactive", 0.9),
      Record(kFrom + absl::Minutes(1), "agent_connect", {{"agent", "pod-1"}}),
      Change(absl::Minutes(20), f, "inactive", "pending", 0.5),
      Change(absl::Minutes(30), f, "pending", "firing", 0.4),
      Record(kFrom + absl::Minutes(60), "plan_version",
             {{"version", "bbbb"}, {"objectives", "1"}}, "ops"),
      Change(absl::Minutes(70), f, "firing", "resolved", 0.85),
      Change(absl::Minutes(50), g, "unevaluated", "insufficient_evidence", 0),
      // After the period: not accounted.
      Change(absl::Minutes(150), f, "resolved", "pending", 0.3),
      Record(kFrom + absl::Minutes(150), "plan_version",
             {{"version", "cccc"}, {"objectives", "1"}}, "ops"),
  };
  // Records are in index (time) order in a real trail.
  std::stable_sort(s.audit.begin(), s.audit.end(),
                   [](const v1::AuditRecord& a, const v1::AuditRecord& b) {
                     return FromProto(a.at()) < FromProto(b.at());
                   });
  s.verify.set_intact(true);
  s.verify.set_records_checked(s.audit.size());

  // Closed before the period: left out.
  v1::Nonconformity old = Nc("NC-000001", -absl::Hours(5));
  Advance(&old, -absl::Hours(4), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED, "mine");
  Advance(&old, -absl::Hours(4), v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED, "c");
  Advance(&old, -absl::Hours(4), v1::NONCONFORMITY_STAGE_ACTION_RECORDED, "a");
  Advance(&old, -absl::Hours(3), v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED,
          "r");
  Advance(&old, -absl::Hours(3), v1::NONCONFORMITY_STAGE_CLOSED, "done");
  // Opened at +30m, acknowledged +40m, worked through, closed at +90m.
  v1::Nonconformity worked = Nc("NC-000002", absl::Minutes(30));
  Advance(&worked, absl::Minutes(40), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
          "looking");
  Advance(&worked, absl::Minutes(45), v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
          "sampling bias in the new branch");
  Advance(&worked, absl::Minutes(50), v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
          "reweighed and retrained");
  *worked.add_history() =
      Step(absl::Minutes(70), v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
           v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
           std::string(kAutoResolvedComment) + ": holds", "aims");
  Advance(&worked, absl::Minutes(80),
          v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED, "held 1h");
  Advance(&worked, absl::Minutes(90), v1::NONCONFORMITY_STAGE_CLOSED, "ok");
  // Opened before the period, recurred in it, still open; acknowledged
  // after the period ends (so open at the end).
  v1::Nonconformity open = Nc("NC-000003", -absl::Minutes(30));
  *open.add_history() =
      Step(absl::Minutes(65), v1::NONCONFORMITY_STAGE_OPEN,
           v1::NONCONFORMITY_STAGE_OPEN,
           std::string(kRecurredComment) + " (occurrence 2)", "aims");
  Advance(&open, absl::Minutes(130), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
          "late");
  // Another model: filtered by the selector in one test.
  v1::Nonconformity other = Nc("NC-000004", absl::Minutes(10), "fraud");
  // Opened after the period: left out.
  v1::Nonconformity later = Nc("NC-000005", absl::Minutes(120));
  s.nonconformities = {old, worked, open, other, later};
  return s;
}

v1::ComplianceReportRequest Period() {
  v1::ComplianceReportRequest r;
  *r.mutable_from() = ToProto(kFrom);
  *r.mutable_to() = ToProto(kTo);
  return r;
}

const v1::SeriesResult* FindSeries(const v1::ComplianceReport& report,
                                   const std::string& series) {
  for (const auto& o : report.objectives())
    for (const auto& s : o.series())
      if (s.series() == series) return &s;
  return nullptr;
}

TEST(ReportTest, AccountsEachSeriesStateToTheSecond) {
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(Period(), Sources(), kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->objectives_size(), 1);
  const v1::ObjectiveResults& o = report->objectives(0);
  EXPECT_EQ(o.scope(), "attribute=gender");
  EXPECT_EQ(o.comparator(), ">=");
  EXPECT_TRUE(o.in_current_plan());
  ASSERT_EQ(o.series_size(), 2);

  const v1::SeriesResult* f =
      FindSeries(*report, "credit/v1/prod attribute=gender");
  ASSERT_NE(f, nullptr);
  // inactive 0-20m, pending 20-30m, firing 30-70m, resolved 70-100m.
  EXPECT_DOUBLE_EQ(f->held_seconds(), 50 * 60);
  EXPECT_DOUBLE_EQ(f->pending_seconds(), 10 * 60);
  EXPECT_DOUBLE_EQ(f->firing_seconds(), 40 * 60);
  EXPECT_DOUBLE_EQ(f->insufficient_seconds(), 0);
  EXPECT_DOUBLE_EQ(f->unevaluated_seconds(), 0);
  EXPECT_EQ(f->firings(), 1u);
  EXPECT_EQ(f->state_at_end(), v1::OBJECTIVE_STATE_RESOLVED);
  EXPECT_DOUBLE_EQ(f->last_value().value(), 0.85);
  EXPECT_EQ(f->last_value().sample_size(), 400u);
  EXPECT_EQ(FromProto(f->last_change()), kFrom + absl::Minutes(70));
  EXPECT_EQ(std::vector<std::string>(f->nonconformity_ids().begin(),
                                     f->nonconformity_ids().end()),
            (std::vector<std::string>{"NC-000002", "NC-000003"}));

  const v1::SeriesResult* g =
      FindSeries(*report, "credit/v1/staging attribute=gender");
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->unevaluated_seconds(), 50 * 60);
  EXPECT_DOUBLE_EQ(g->insufficient_seconds(), 50 * 60);
  EXPECT_EQ(g->firings(), 0u);

  EXPECT_EQ(report->totals().series(), 2u);
  EXPECT_EQ(report->totals().series_held(), 1u);
  EXPECT_TRUE(report->audit().intact());
}

// A plan reload that drops a series ends its accounting ("unevaluated"
// from then); a recurrence that reopens a record after its corrective action
// counts as a recurrence, not as an acknowledgement.
TEST(ReportTest, DroppedSeriesAndReopenedRecords) {
  ComplianceReportSources sources = Sources();
  sources.audit.push_back(Change(absl::Minutes(80),
                                 "credit/v1/prod attribute=gender", "resolved",
                                 "unevaluated"));
  std::stable_sort(sources.audit.begin(), sources.audit.end(),
                   [](const v1::AuditRecord& a, const v1::AuditRecord& b) {
                     return FromProto(a.at()) < FromProto(b.at());
                   });
  v1::Nonconformity reopened = Nc("NC-000006", absl::Minutes(5));
  Advance(&reopened, absl::Minutes(6), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
          "mine");
  Advance(&reopened, absl::Minutes(7), v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
          "c");
  Advance(&reopened, absl::Minutes(8), v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
          "a");
  *reopened.add_history() = Step(
      absl::Minutes(9), v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
      v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
      std::string(kRecurredComment) + " (occurrence 2): did not hold", "aims");
  reopened.set_stage(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  reopened.set_occurrences(2);
  sources.nonconformities = {reopened};
  v1::ComplianceReportRequest request = Period();
  *request.mutable_bucket() = ToProtoDuration(absl::Hours(2));
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, sources, kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  const v1::SeriesResult* f =
      FindSeries(*report, "credit/v1/prod attribute=gender");
  ASSERT_NE(f, nullptr);
  EXPECT_DOUBLE_EQ(f->held_seconds(), 30 * 60);  // 0-20m and 70-80m
  EXPECT_DOUBLE_EQ(f->unevaluated_seconds(), 20 * 60);
  EXPECT_EQ(f->state_at_end(), v1::OBJECTIVE_STATE_UNSPECIFIED);
  ASSERT_EQ(report->trend_size(), 1);
  EXPECT_EQ(report->trend(0).acknowledged(), 1u);
  EXPECT_EQ(report->trend(0).recurred(), 1u);
  EXPECT_EQ(report->trend(0).actions_recorded(), 1u);
  ASSERT_EQ(report->open_items_size(), 1);
  EXPECT_EQ(report->open_items(0).stage(),
            v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  EXPECT_EQ(report->open_items(0).occurrences(), 2u);
  // As of a period that ended before the recurrence: one occurrence, the
  // action recorded.
  request = Period();
  *request.mutable_to() = ToProto(kFrom + absl::Seconds(510));
  report = BuildComplianceReport(request, sources, kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->open_items_size(), 1);
  EXPECT_EQ(report->open_items(0).stage(),
            v1::NONCONFORMITY_STAGE_ACTION_RECORDED);
  EXPECT_EQ(report->open_items(0).occurrences(), 1u);
}

TEST(ReportTest, TrendTotalsAndOpenItems) {
  v1::ComplianceReportRequest request = Period();
  *request.mutable_bucket() = ToProtoDuration(absl::Hours(1));
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, Sources(), kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->trend_size(), 2);
  const v1::TrendBucket& first = report->trend(0);  // 0-60m
  EXPECT_EQ(first.opened(), 2u);  // NC-000002 and fraud's NC-000004
  EXPECT_EQ(first.acknowledged(), 1u);
  EXPECT_EQ(first.actions_recorded(), 1u);
  EXPECT_EQ(first.closed(), 0u);
  EXPECT_EQ(first.open_at_end(), 3u);                // 2, 3, 4
  const v1::TrendBucket& second = report->trend(1);  // 60-100m
  EXPECT_EQ(FromProto(second.start()), kFrom + absl::Hours(1));
  EXPECT_EQ(second.opened(), 0u);
  EXPECT_EQ(second.recurred(), 1u);
  EXPECT_EQ(second.auto_resolved(), 1u);
  EXPECT_EQ(second.closed(), 1u);
  EXPECT_EQ(second.open_at_end(), 2u);  // 3 and 4

  EXPECT_EQ(report->totals().opened(), 2u);
  EXPECT_EQ(report->totals().closed(), 1u);
  EXPECT_EQ(report->totals().open_at_end(), 2u);
  EXPECT_DOUBLE_EQ(report->totals().mean_seconds_to_acknowledge(), 10 * 60);
  EXPECT_DOUBLE_EQ(report->totals().mean_seconds_to_close(), 60 * 60);

  // Open items as of the end: NC-000003's later acknowledgement is not shown.
  ASSERT_EQ(report->open_items_size(), 2);
  EXPECT_EQ(report->open_items(0).id(), "NC-000003");
  EXPECT_EQ(report->open_items(0).stage(), v1::NONCONFORMITY_STAGE_OPEN);
  EXPECT_EQ(report->open_items(0).history_size(), 2);
  EXPECT_EQ(report->open_items(1).id(), "NC-000004");
  std::vector<std::string> ids;
  for (const auto& nc : report->nonconformities()) ids.push_back(nc.id());
  EXPECT_EQ(ids,
            (std::vector<std::string>{"NC-000002", "NC-000003", "NC-000004"}));
}

TEST(ReportTest, PlanVersionsInForceAndLoadedDuringThePeriod) {
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(Period(), Sources(), kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->plan_versions_size(), 2);
  EXPECT_EQ(report->plan_versions(0).version(), "aaaa");
  EXPECT_EQ(report->plan_versions(0).actor(), "ops");
  EXPECT_EQ(report->plan_versions(1).version(), "bbbb");
}

TEST(ReportTest, SelectorKeepsOneModel) {
  v1::ComplianceReportRequest request = Period();
  request.mutable_selector()->set_name("fraud");
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, Sources(), kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->nonconformities_size(), 1);
  EXPECT_EQ(report->nonconformities(0).id(), "NC-000004");
  // The objective matches any model but has no fraud series.
  EXPECT_EQ(report->totals().series(), 0u);
  request.mutable_selector()->set_environment("staging");
  request.mutable_selector()->set_name("credit");
  report = BuildComplianceReport(request, Sources(), kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->totals().series(), 1u);
  EXPECT_EQ(report->nonconformities_size(), 0);
}

TEST(ReportTest, PeriodReachingNowIsAccountedUpToNow) {
  const absl::Time now = kFrom + absl::Minutes(25);
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(Period(), Sources(), now);
  ASSERT_TRUE(report.ok());
  const v1::SeriesResult* f =
      FindSeries(*report, "credit/v1/prod attribute=gender");
  ASSERT_NE(f, nullptr);
  EXPECT_DOUBLE_EQ(f->held_seconds() + f->pending_seconds() +
                       f->firing_seconds() + f->insufficient_seconds() +
                       f->unevaluated_seconds(),
                   25 * 60);
  EXPECT_DOUBLE_EQ(f->pending_seconds(), 5 * 60);
  EXPECT_EQ(f->state_at_end(), v1::OBJECTIVE_STATE_PENDING);
}

// A possible breach is accounted as its own share of the period; it opens
// no nonconformity, so the series still never fired.
TEST(ReportTest, PossibleBreachIsItsOwnShare) {
  ComplianceReportSources sources = Sources();
  const std::string h = "credit/v1/canary attribute=gender";
  sources.audit.push_back(
      Change(absl::Minutes(80), h, "unevaluated", "inactive", 0.9));
  sources.audit.push_back(
      Change(absl::Minutes(85), h, "inactive", "possible_breach", 0.75));
  sources.audit.push_back(
      Change(absl::Minutes(95), h, "possible_breach", "inactive", 0.85));
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(Period(), sources, kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  const v1::SeriesResult* s = FindSeries(*report, h);
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->unevaluated_seconds(), 80 * 60);
  EXPECT_DOUBLE_EQ(s->held_seconds(), 10 * 60);
  EXPECT_DOUBLE_EQ(s->possible_breach_seconds(), 10 * 60);
  EXPECT_EQ(s->firings(), 0u);
  EXPECT_EQ(report->totals().series(), 3u);
  EXPECT_EQ(report->totals().series_held(), 2u);
}

TEST(ReportTest, BadPeriodsAndBucketsNameTheField) {
  v1::ComplianceReportRequest request = Period();
  *request.mutable_to() = ToProto(kFrom);
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, Sources(), kTo);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(report.status().message(), "from: "))
      << report.status();
  request = Period();
  *request.mutable_bucket() = ToProtoDuration(absl::Seconds(10));
  report = BuildComplianceReport(request, Sources(), kTo);
  EXPECT_EQ(report.status().message(),
            "bucket: 10s is shorter than the minimum of 1m");
  request = Period();
  *request.mutable_from() = ToProto(kTo - absl::Hours(24 * 365));
  *request.mutable_bucket() = ToProtoDuration(absl::Hours(1));
  report = BuildComplianceReport(request, Sources(), kTo);
  EXPECT_EQ(report.status().message(),
            "bucket: 1h makes 8760 buckets of the period; the limit is 1000");
  // Defaults: the last 30 days, daily buckets.
  report = BuildComplianceReport({}, Sources(), kTo);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(FromProto(report->to()) - FromProto(report->from()),
            absl::Hours(24 * 30));
  EXPECT_EQ(FromProtoDuration(report->bucket()), absl::Hours(24));
}

// Invalid and risk-accepted records have ended: counted per bucket and in
// the totals (invalid as false alarms), never open items; one that ended
// before the period is left out.
TEST(ReportTest, InvalidAndRiskAcceptedEndings) {
  ComplianceReportSources sources = Sources();
  v1::Nonconformity invalid = Nc("NC-000006", absl::Minutes(10));
  Advance(&invalid, absl::Minutes(15), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
          "mine");
  Advance(&invalid, absl::Minutes(20), v1::NONCONFORMITY_STAGE_INVALID,
          "load test traffic");
  v1::Nonconformity accepted = Nc("NC-000007", absl::Minutes(12));
  Advance(&accepted, absl::Minutes(25), v1::NONCONFORMITY_STAGE_RISK_ACCEPTED,
          "compensating control");
  v1::Nonconformity before = Nc("NC-000008", -absl::Hours(3));
  Advance(&before, -absl::Hours(2), v1::NONCONFORMITY_STAGE_INVALID, "noise");
  sources.nonconformities.push_back(invalid);
  sources.nonconformities.push_back(accepted);
  sources.nonconformities.push_back(before);
  v1::ComplianceReportRequest request = Period();
  *request.mutable_bucket() = ToProtoDuration(absl::Hours(1));
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, sources, kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->trend(0).opened(), 4u);  // 2, 4, 6 and 7
  EXPECT_EQ(report->trend(0).invalid(), 1u);
  EXPECT_EQ(report->trend(0).risk_accepted(), 1u);
  EXPECT_EQ(report->trend(0).open_at_end(), 3u);  // 2, 3, 4
  EXPECT_EQ(report->totals().false_alarms(), 1u);
  EXPECT_EQ(report->totals().risk_accepted(), 1u);
  EXPECT_EQ(report->totals().closed(), 1u);
  EXPECT_EQ(report->totals().open_at_end(), 2u);
  std::vector<std::string> ids;
  for (const auto& nc : report->nonconformities()) ids.push_back(nc.id());
  EXPECT_EQ(ids,
            (std::vector<std::string>{"NC-000002", "NC-000003", "NC-000004",
                                      "NC-000006", "NC-000007"}));
  for (const auto& nc : report->open_items()) {
    EXPECT_NE(nc.id(), "NC-000006");
    EXPECT_NE(nc.id(), "NC-000007");
  }
}

// The report carries each series' values for its chart, names the agents
// its series mention (and only those), and words the plan's generated
// "when analysed" for people while keeping an author's own text.
TEST(ReportTest, ValuesAgentsAndPlainWhenAnalysed) {
  ComplianceReportSources sources = Sources();
  auto plan = std::make_shared<Plan>(*sources.plan);
  Objective& o = plan->objectives[0];
  o.evaluation_interval = absl::Seconds(5);
  o.for_duration = absl::ZeroDuration();
  o.when_analysed = "every 5s; nonconformity after breaching for 0";
  Objective silent;
  silent.id = "coverage.agent-silent";
  silent.metric = "agent_silence_seconds";
  silent.when_analysed = "by the SRE on duty";
  plan->objectives.push_back(silent);
  sources.plan = plan;
  for (const char* series :
       {"credit/v1/prod agent=a-1", "credit/v1/prod slot=2"}) {
    sources.states.emplace_back();
    sources.states.back().set_objective_id("coverage.agent-silent");
    sources.states.back().set_series(series);
  }
  // a-1 by id; slot 2 held by a-2, then a-4 (last seen): a-4; a-3 holds
  // slot 2 of another model.
  for (const auto& [id, slot, seen, model] :
       std::vector<std::tuple<std::string, uint32_t, int, std::string>>{
           {"a-1", 1, 10, "credit"},
           {"a-2", 2, 20, "credit"},
           {"a-3", 2, 40, "fraud"},
           {"a-4", 2, 30, "credit"}}) {
    v1::AgentInfo& a = sources.agents.emplace_back();
    a.mutable_agent()->set_agent_id(id);
    a.mutable_agent()->set_pod("pod-" + id);
    a.mutable_model()->set_name(model);
    a.mutable_model()->set_version("v1");
    a.mutable_model()->set_environment("prod");
    a.set_slot(slot);
    *a.mutable_last_seen() = ToProto(kFrom + absl::Minutes(seen));
  }
  v1::MetricPoint point;
  *point.mutable_start() = ToProto(kFrom);
  *point.mutable_end() = ToProto(kFrom + absl::Minutes(30));
  point.add_values()->set_value(0.9);
  sources.values[{"parity", "credit/v1/prod attribute=gender"}] = {point,
                                                                   point};
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(Period(), sources, kTo + absl::Hours(1));
  ASSERT_TRUE(report.ok()) << report.status();
  const v1::SeriesResult* s =
      FindSeries(*report, "credit/v1/prod attribute=gender");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->values_size(), 2);
  EXPECT_EQ(s->values(0).values(0).value(), 0.9);
  EXPECT_EQ(
      FindSeries(*report, "credit/v1/staging attribute=gender")->values_size(),
      0);
  std::vector<std::string> agents;
  for (const v1::AgentInfo& a : report->agents())
    agents.push_back(a.agent().pod());
  EXPECT_EQ(agents, (std::vector<std::string>{"pod-a-1", "pod-a-4"}));
  EXPECT_EQ(report->objectives(0).when_analysed(),
            "Judged every 5s; a nonconformity is opened as soon as a breach "
            "is shown.");
  EXPECT_EQ(report->objectives(1).when_analysed(), "by the SRE on duty");
}

}  // namespace
}  // namespace aims::collector

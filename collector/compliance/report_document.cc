#include "collector/compliance/report_document.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "collector/plan/names.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat("%.4g", v);
}

std::string Percent(double part, double whole) {
  if (whole <= 0) return "-";
  return absl::StrFormat("%.1f", 100.0 * part / whole);
}

// "1h 5m", "3d 2h", "42s": coarse, for people.
std::string Span(double seconds) {
  if (seconds <= 0) return "-";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m ", s % 60, "s");
  if (s < 86400) return absl::StrCat(s / 3600, "h ", (s % 3600) / 60, "m");
  return absl::StrCat(s / 86400, "d ", (s % 86400) / 3600, "h");
}

std::string Duration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(FromProtoDuration(d));
}

std::string NextStep(v1::NonconformityStage s) {
  switch (s) {
    case v1::NONCONFORMITY_STAGE_OPEN:
      return "acknowledge (nc ack)";
    case v1::NONCONFORMITY_STAGE_ACKNOWLEDGED:
      return "analyse the cause (nc analyse)";
    case v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED:
      return "record the corrective action (nc act)";
    case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
      return "review effectiveness (nc review)";
    case v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED:
      return "close (nc close)";
    default:
      return "-";
  }
}

// The comment of the last step into `stage`, or "-".
std::string StepComment(const v1::Nonconformity& nc,
                        v1::NonconformityStage stage) {
  std::string out = "-";
  for (const v1::Transition& t : nc.history()) {
    if (t.to() == stage && t.from() != stage) {
      out = absl::StrCat(t.comment().empty() ? "(no comment)" : t.comment(),
                         " (", t.actor(), ", ", ReportTime(t.at()), ")");
    }
  }
  return out;
}

// How the record ended: "closed 2026-..", "invalid: <reason> (..)", "risk
// accepted until .. by .."; "-" while it has not.
std::string EndingText(const v1::Nonconformity& nc) {
  switch (nc.stage()) {
    case v1::NONCONFORMITY_STAGE_CLOSED:
      for (const v1::Transition& t : nc.history()) {
        if (t.to() == v1::NONCONFORMITY_STAGE_CLOSED && t.from() != t.to())
          return absl::StrCat("closed ", ReportTime(t.at()), " by ", t.actor());
      }
      return "closed";
    case v1::NONCONFORMITY_STAGE_INVALID:
      return absl::StrCat("invalid, not a real breach: ",
                          StepComment(nc, v1::NONCONFORMITY_STAGE_INVALID));
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return absl::StrCat(
          "risk accepted until ", ReportTime(nc.risk_accepted_until()), " by ",
          nc.risk_accepted_by().empty() ? "-" : nc.risk_accepted_by(), ": ",
          StepComment(nc, v1::NONCONFORMITY_STAGE_RISK_ACCEPTED));
    default:
      return "-";
  }
}

// What a metric is called in a sentence, and what its sample size counts.
struct MetricWords {
  const char* metric;
  const char* name;
  const char* counted;
};
constexpr MetricWords kMetricWords[] = {
    {"accuracy", "accuracy", "labelled predictions"},
    {"psi", "population stability index (PSI)", "values of the feature"},
    {"js_distance", "Jensen-Shannon distance", "values of the feature"},
    {"hellinger", "Hellinger distance", "values of the feature"},
    {"ks_statistic", "Kolmogorov-Smirnov statistic", "values of the feature"},
    {"drifted_feature_share", "share of drifted input features",
     "input features judged"},
    {"demographic_parity_ratio", "demographic parity ratio",
     "events in the smallest group"},
    {"demographic_parity_difference", "demographic parity difference",
     "events in the smallest group"},
    {"equal_opportunity_difference", "equal opportunity difference",
     "labelled positives in the smallest group"},
    {"error_rate", "error rate", "events"},
    {"model_silence_seconds", "time since the model last reported (s)", ""},
    {"agent_silence_seconds", "time since the agent last reported (s)", ""},
    {"missing_windows", "number of lost monitoring windows", ""},
    {"profile_present", "reference profile present (1 = yes)", ""},
};

const MetricWords* WordsFor(const std::string& metric) {
  for (const MetricWords& w : kMetricWords)
    if (metric == w.metric) return &w;
  return nullptr;
}

std::string MetricName(const std::string& metric) {
  const MetricWords* w = WordsFor(metric);
  return w != nullptr ? w->name : absl::StrReplaceAll(metric, {{"_", " "}});
}

// "1/30d" -> "1 false alarm per 30d".
std::string BudgetText(const std::string& budget) {
  const size_t slash = budget.find('/');
  if (slash == std::string::npos) return budget;
  return absl::StrCat(budget.substr(0, slash), " false alarm",
                      budget.substr(0, slash) == "1" ? "" : "s", " per ",
                      budget.substr(slash + 1));
}

std::string DecisionSentence(const v1::Evidence& e) {
  const v1::MetricValue& v = e.value();
  if (e.decision() == "point")
    return "The value itself was beyond the threshold.";
  if (e.decision() == "interval") {
    if (e.confidence() <= 0)
      return "The value had no confidence interval, so the value itself "
             "decided.";
    return absl::StrFormat(
        "Its %g%% confidence interval, %s to %s, lay wholly beyond the "
        "threshold, so the breach is shown at that confidence.",
        e.confidence() * 100, Number(v.ci_low()), Number(v.ci_high()));
  }
  if (e.decision() == "sequential") {
    return absl::StrFormat(
        "A sequential test (CUSUM) confirmed it after %d steps: its statistic "
        "%s passed the limit %s, set for at most %s across %d series.",
        e.steps(), Number(e.statistic()), Number(e.statistic_threshold()),
        BudgetText(e.false_alarm_budget()), e.series_compared());
  }
  return "";
}

}  // namespace

std::string ReportTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", FromProto(t),
                          absl::UTCTimeZone());
}

std::string MetricNumber(const std::string& metric, double v) {
  if (!absl::StartsWith(metric, "latency_") || std::isnan(v)) return Number(v);
  if (v < 1e-3) return absl::StrFormat("%.3gus", v * 1e6);
  if (v < 1) return absl::StrFormat("%.3gms", v * 1e3);
  return absl::StrFormat("%.3gs", v);
}

std::string RequirementText(const std::string& metric,
                            const std::string& comparator, double threshold) {
  const std::string t = MetricNumber(metric, threshold);
  if (comparator == "<") return "below " + t;
  if (comparator == "<=") return "at most " + t;
  if (comparator == ">") return "above " + t;
  if (comparator == ">=") return "at least " + t;
  if (comparator == "==") return "exactly " + t;
  if (comparator == "!=") return "other than " + t;
  return absl::StrCat(comparator, " ", t);
}

std::string StageText(v1::NonconformityStage stage) {
  switch (stage) {
    case v1::NONCONFORMITY_STAGE_INVALID:
      return "invalid (false alarm)";
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return "risk accepted";
    default:
      return absl::StrReplaceAll(StageName(stage), {{"_", " "}});
  }
}

std::map<std::string, std::string> AgentNames(
    const v1::ComplianceReport& report) {
  std::map<std::string, std::string> names;
  for (const v1::AgentInfo& info : report.agents()) {
    const v1::AgentRef& a = info.agent();
    std::string name = !a.pod().empty() ? a.pod() : a.host();
    if (!a.pod().empty() && !a.host().empty())
      absl::StrAppend(&name, " on ", a.host());
    if (name.empty()) name = a.agent_id();
    names[absl::StrCat("agent=", a.agent_id())] = name;
    if (info.slot() > 0) {
      const v1::ModelRef& m = info.model();
      names[absl::StrCat(m.name(), "/", m.version(), "/", m.environment(),
                         " slot=", info.slot())] = name;
    }
  }
  return names;
}

std::string SeriesText(const std::string& series,
                       const std::map<std::string, std::string>& agents) {
  for (const std::string key : {" agent=", " slot="}) {
    const size_t at = series.find(key);
    if (at == std::string::npos) continue;
    const size_t end = series.find(' ', at + key.size());
    const std::string value =
        series.substr(at + key.size(), end - at - key.size());
    const std::string rest = end == std::string::npos ? "" : series.substr(end);
    if (key == " agent=") {
      auto it = agents.find(absl::StrCat("agent=", value));
      if (it == agents.end()) return series;
      return absl::StrCat(series.substr(0, at), " agent ", it->second, rest);
    }
    auto it = agents.find(series.substr(0, end));
    return absl::StrCat(series.substr(0, at), " replica slot ", value,
                        it == agents.end() ? "" : " (" + it->second + ")",
                        rest);
  }
  return series;
}

std::string EvidenceSentence(const v1::Nonconformity& nc) {
  const v1::Evidence& e = nc.evidence();
  const v1::MetricValue& v = e.value();
  const std::string& metric = v.metric();
  std::string what = MetricName(metric);
  if (!v.feature().empty()) absl::StrAppend(&what, " of ", v.feature());
  if (!v.attribute().empty()) absl::StrAppend(&what, " across ", v.attribute());
  if (!v.slice().empty()) absl::StrAppend(&what, " for ", v.slice());
  std::string s;
  if (metric == "drifted_feature_share" && v.sample_size() > 0) {
    const int64_t drifted = std::llround(v.value() * v.sample_size());
    s = absl::StrFormat(
        "%d of the %d input features judged had drifted (%.0f%%); the plan "
        "requires a share %s.",
        drifted, v.sample_size(), v.value() * 100,
        RequirementText(metric, e.comparator(), e.threshold()));
  } else {
    s = absl::StrCat("The ", what, " was ", MetricNumber(metric, v.value()),
                     "; the plan requires ",
                     RequirementText(metric, e.comparator(), e.threshold()),
                     ".");
    const MetricWords* w = WordsFor(metric);
    if (v.sample_size() > 0 && (w == nullptr || *w->counted != '\0')) {
      absl::StrAppend(&s, " Measured on ", v.sample_size(), " ",
                      w != nullptr ? w->counted : "samples", ".");
    }
  }
  if (e.has_window_start() && e.has_window_end()) {
    absl::StrAppend(&s, " Data from ", ReportTime(e.window_start()), " to ",
                    ReportTime(e.window_end()), ".");
  }
  if (!e.found_by().empty()) {
    absl::StrAppend(&s, " Found by catch-up evaluation (",
                    e.found_by() == "catch-up: backfilled data"
                        ? "the window was backfilled"
                        : "the window's data arrived late",
                    ").");
  }
  if (v.has_p_value())
    absl::StrAppend(&s, absl::StrFormat(" p-value %.3g.", v.p_value()));
  const std::string decision = DecisionSentence(e);
  if (!decision.empty()) absl::StrAppend(&s, " ", decision);
  if (nc.features_size() > 0) {
    absl::StrAppend(&s, " Features: ", absl::StrJoin(nc.features(), ", "), ".");
  }
  return s;
}

namespace {

std::string AuditText(const v1::VerifyAuditResponse& audit) {
  return audit.intact()
             ? absl::StrCat("intact (hash chain verified over ",
                            audit.records_checked(), " records)")
             : absl::StrCat("BROKEN at record ", audit.first_broken_index(),
                            ": ", audit.detail());
}

// Fleet mode: how many collectors, whose trails are intact, who was silent.
std::string FleetText(const v1::ComplianceReport& r) {
  std::vector<std::string> silent, broken;
  for (const v1::FleetCollector& c : r.fleet()) {
    if (!c.answered()) {
      silent.push_back(c.address());
    } else if (!c.audit().intact()) {
      broken.push_back(c.address());
    }
  }
  std::string s = absl::StrCat(r.fleet_size(), " collectors");
  if (broken.empty() && silent.empty())
    return absl::StrCat(s, ", every audit trail intact");
  if (!broken.empty()) {
    absl::StrAppend(&s, "; audit trail BROKEN on ",
                    absl::StrJoin(broken, ", "));
  }
  if (!silent.empty()) {
    absl::StrAppend(&s, "; INCOMPLETE: ", absl::StrJoin(silent, ", "),
                    " did not answer, so the series of the models it owns, "
                    "the records it holds and its agents are missing");
  }
  return s;
}

// Heading facts: period, generation time, collector, audit trail state
// (and the fleet's, in fleet mode).
std::vector<std::pair<std::string, std::string>> Facts(
    const v1::ComplianceReport& r) {
  std::vector<std::pair<std::string, std::string>> facts = {
      {"Period",
       absl::StrCat(ReportTime(r.from()), " to ", ReportTime(r.to()))},
      {"Generated", ReportTime(r.generated_at())},
      {"Produced by",
       absl::StrCat("the aims collector \"",
                    r.collector_id().empty() ? "-" : r.collector_id(), "\"")},
      {"Audit trail", AuditText(r.audit())},
  };
  if (r.fleet_size() > 0) facts.push_back({"Fleet", FleetText(r)});
  return facts;
}

ReportTable FleetTable(const v1::ComplianceReport& r) {
  ReportTable fleet{"fleet",
                    "Collectors of the fleet",
                    "Each collector keeps its own audit trail, verified when "
                    "the report was built; the report covers the collectors "
                    "that answered.",
                    {"Collector", "Answered", "Audit trail"},
                    {}};
  for (const v1::FleetCollector& c : r.fleet()) {
    fleet.rows.push_back(
        {c.self() ? absl::StrCat(c.address(), " (this report's)") : c.address(),
         c.answered() ? "yes" : "no",
         c.answered() ? AuditText(c.audit()) : c.error()});
  }
  return fleet;
}

// The end of what the report covers: the period's end, or the time it was
// made if that is earlier.
absl::Time CoveredUntil(const v1::ComplianceReport& r) {
  return std::min(FromProto(r.to()), FromProto(r.generated_at()));
}

ReportTable PlanTable(const v1::ComplianceReport& r) {
  ReportTable plan{"plan",
                   "Monitoring plan versions",
                   "The plan in force at the start of the period and every "
                   "version loaded during it (SHA-256 of the plan file).",
                   {"Version", "Loaded", "By", "Objectives"},
                   {}};
  for (const v1::PlanVersionUse& p : r.plan_versions()) {
    plan.rows.push_back({p.version().substr(0, 16), ReportTime(p.loaded_at()),
                         p.actor(), absl::StrCat(p.objectives())});
  }
  return plan;
}

ReportTable SummaryTable(const v1::ComplianceTotals& t) {
  return {"summary",
          "Summary",
          "",
          {"Measure", "Value"},
          {{"Objectives monitored", absl::StrCat(t.objectives())},
           {"Objective series", absl::StrCat(t.series())},
           {"Series that never fired", absl::StrCat(t.series_held())},
           {"Nonconformities opened", absl::StrCat(t.opened())},
           {"Nonconformities acknowledged", absl::StrCat(t.acknowledged())},
           {"Nonconformities closed", absl::StrCat(t.closed())},
           {"False alarms (ended as invalid)", absl::StrCat(t.false_alarms())},
           {"Risks accepted", absl::StrCat(t.risk_accepted())},
           {"Open at the end of the period", absl::StrCat(t.open_at_end())},
           {"Mean time to acknowledge", Span(t.mean_seconds_to_acknowledge())},
           {"Mean time to close", Span(t.mean_seconds_to_close())}}};
}

// 9.1: what, how and when each objective of the current plan measures.
ReportTable ObjectivesTable(const v1::ComplianceReport& r) {
  ReportTable objectives{
      "objectives",
      "9.1 What is monitored, how and when",
      "Each objective of the monitoring plan answers clause 9.1: what is "
      "measured, by which method, when it is measured and when analysed.",
      {"Objective", "Title", "Criterion", "What", "Method", "When measured",
       "When analysed", "Severity", "Owner", "ISO/IEC 42001"},
      {}};
  for (const v1::ObjectiveResults& o : r.objectives()) {
    if (!o.in_current_plan()) continue;
    const std::string criterion = absl::StrCat(
        o.metric(), o.scope().empty() ? "" : " ", o.scope(), " ",
        o.comparator(), " ", MetricNumber(o.metric(), o.threshold()), " over ",
        Duration(o.window()));
    objectives.rows.push_back({o.objective_id(), o.title(), criterion, o.what(),
                               o.method(), o.when_measured(), o.when_analysed(),
                               SeverityText(o.severity()),
                               o.owner().empty() ? "-" : o.owner(),
                               absl::StrJoin(o.iso_references(), ", ")});
  }
  return objectives;
}

// 9.1: how each objective series fared over the period.
ReportTable ResultsTable(const v1::ComplianceReport& r,
                         const std::map<std::string, std::string>& agents) {
  const double period =
      absl::ToDoubleSeconds(CoveredUntil(r) - FromProto(r.from()));
  ReportTable results{
      "results",
      "9.1 Monitoring results",
      "Share of the period (%) each objective series spent holding, breached "
      "but not yet long enough to raise a nonconformity (pending), firing, "
      "with too few samples to judge (insufficient), before its first "
      "evaluation (unevaluated), and beyond its threshold without the "
      "evidence to show a breach (possible breach, never a nonconformity). "
      "Backfilled: events of the series loaded by aimsctl backfill (not "
      "sent live), of all its events.",
      {"Objective", "Series", "Held %", "Pending %", "Firing %",
       "Insufficient %", "Unevaluated %", "Firings", "State at end",
       "Last value", "Nonconformities", "Possible breach %", "Backfilled"},
      {},
      8};
  for (const v1::ObjectiveResults& o : r.objectives()) {
    if (o.series().empty()) {
      results.rows.push_back({o.objective_id(), "(no data)", "-", "-", "-", "-",
                              "-", "0", "-", "-", "-", "-", "-"});
    }
    for (const v1::SeriesResult& s : o.series()) {
      uint64_t backfilled = 0, events = 0;
      for (const v1::MetricPoint& p : s.values()) {
        backfilled += p.backfilled_events();
        events += p.event_count();
      }
      results.rows.push_back(
          {o.objective_id(), SeriesText(s.series(), agents),
           Percent(s.held_seconds(), period),
           Percent(s.pending_seconds(), period),
           Percent(s.firing_seconds(), period),
           Percent(s.insufficient_seconds(), period),
           Percent(s.unevaluated_seconds(), period), absl::StrCat(s.firings()),
           ObjectiveStateName(s.state_at_end()),
           s.has_last_value()
               ? MetricNumber(s.last_value().metric(), s.last_value().value())
               : "-",
           s.nonconformity_ids().empty()
               ? "-"
               : absl::StrJoin(s.nonconformity_ids(), " "),
           Percent(s.possible_breach_seconds(), period),
           backfilled > 0 ? absl::StrCat(backfilled, " of ", events, " events")
                          : "-"});
    }
  }
  return results;
}

// 9.3: lifecycle steps per bucket.
ReportTable TrendTable(const v1::ComplianceReport& r) {
  ReportTable trend{
      "trend",
      "9.3 Nonconformity and corrective-action trend",
      absl::StrCat("Lifecycle steps per ", Duration(r.bucket()),
                   " bucket, for management review; open = not ended (closed, "
                   "invalid or risk accepted) at the bucket's end."),
      {"Bucket start", "Opened", "Recurred", "Acknowledged", "Actions recorded",
       "Closed", "Auto-resolved", "Open", "Invalid", "Risk accepted"},
      {}};
  for (const v1::TrendBucket& b : r.trend()) {
    trend.rows.push_back(
        {ReportTime(b.start()), absl::StrCat(b.opened()),
         absl::StrCat(b.recurred()), absl::StrCat(b.acknowledged()),
         absl::StrCat(b.actions_recorded()), absl::StrCat(b.closed()),
         absl::StrCat(b.auto_resolved()), absl::StrCat(b.open_at_end()),
         absl::StrCat(b.invalid()), absl::StrCat(b.risk_accepted())});
  }
  return trend;
}

ReportTable OpenTable(const v1::ComplianceReport& r,
                      const std::map<std::string, std::string>& agents) {
  const absl::Time end = CoveredUntil(r);
  ReportTable open{"open",
                   "Open items",
                   "Nonconformities not ended at the end of the period, "
                   "oldest first, with the next clause 10.2 step.",
                   {"Id", "Severity", "Objective", "Series", "Opened", "Age",
                    "Stage", "Owner", "Next step", "Due", "Ticket"},
                   {},
                   6};
  for (const v1::Nonconformity& nc : r.open_items()) {
    const bool overdue =
        nc.has_due_at() && FromProto(nc.due_at()) < CoveredUntil(r);
    open.rows.push_back(
        {nc.id(), SeverityText(nc.severity()), nc.objective_id(),
         SeriesText(nc.series(), agents), ReportTime(nc.opened_at()),
         Span(absl::ToDoubleSeconds(end - FromProto(nc.opened_at()))),
         StageText(nc.stage()) + (nc.auto_resolved() ? " (auto-resolved)" : ""),
         nc.owner().empty() ? "-" : nc.owner(), NextStep(nc.stage()),
         ReportTime(nc.due_at()) + (overdue ? " (overdue)" : ""),
         nc.ticket_url().empty() ? "-" : nc.ticket_url()});
  }
  return open;
}

ReportTable NonconformitiesTable(
    const v1::ComplianceReport& r,
    const std::map<std::string, std::string>& agents) {
  ReportTable ncs{"nonconformities",
                  "Nonconformities of the period",
                  "Every nonconformity open during the period, with its "
                  "evidence, cause, corrective action and how it ended "
                  "(clause 10.2).",
                  {"Id", "Objective", "Series", "Opened", "Occurrences",
                   "Evidence", "Stage", "Cause", "Corrective action", "Ended",
                   "Severity", "Owner", "Due", "Ticket"},
                  {},
                  6};
  for (const v1::Nonconformity& nc : r.nonconformities()) {
    ncs.rows.push_back(
        {nc.id(), nc.objective_id(), SeriesText(nc.series(), agents),
         ReportTime(nc.opened_at()), absl::StrCat(nc.occurrences()),
         EvidenceSentence(nc), StageText(nc.stage()),
         StepComment(nc, v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED),
         StepComment(nc, v1::NONCONFORMITY_STAGE_ACTION_RECORDED),
         EndingText(nc), SeverityText(nc.severity()),
         nc.owner().empty() ? "-" : nc.owner(), ReportTime(nc.due_at()),
         nc.ticket_url().empty() ? "-" : nc.ticket_url()});
  }
  return ncs;
}

std::vector<std::pair<std::string, std::string>> Glossary() {
  return {
      {"Objective",
       "A rule of the monitoring plan that a model must keep, such as "
       "\"accuracy at least 0.6\"."},
      {"Series",
       "One thing an objective watches: a model, or one feature, group or "
       "agent of it, written model/version/environment."},
      {"Held", "The objective was judged and kept (inactive or resolved)."},
      {"Pending",
       "The objective was breached, but not yet for as long as the plan "
       "asks before raising a nonconformity."},
      {"Firing",
       "The objective was breached long enough: a nonconformity is open and "
       "alerts went out."},
      {"Insufficient evidence",
       "Too few samples to judge; never counted as passing."},
      {"Possible breach",
       "The value is beyond the threshold but the data does not show it at "
       "the stated confidence; shown, never a nonconformity."},
      {"Unevaluated", "Before the objective's first evaluation."},
      {"Nonconformity",
       "A recorded failure to keep an objective (ISO/IEC 42001 clause 10.2), "
       "worked through acknowledge, analyse the cause, act, review and "
       "close."},
      {"Invalid (false alarm)",
       "A nonconformity ended as not a real breach, with the reason; counted "
       "as a false alarm."},
      {"Risk accepted",
       "A nonconformity whose risk a person with that authority accepted "
       "until a date; it reopens when the date passes."},
      {"Confidence interval",
       "The range the true value lies in with the stated confidence (95%), "
       "given the sample size."},
      {"Sequential test (CUSUM)",
       "A running sum of how far each step exceeded the threshold; a breach "
       "is declared when it passes a limit chosen so that false alarms stay "
       "within the plan's budget (e.g. 1/30d: one per 30 days)."},
      {"PSI",
       "Population stability index: how far a feature's distribution "
       "moved from the reference data; 0 means unchanged."},
      {"Drifted feature share",
       "The share of input features whose PSI is shown to exceed the minimum "
       "effect."},
      {"Demographic parity ratio",
       "The lowest approval rate of a group divided by the highest; 1 means "
       "equal, below 0.8 fails the four-fifths rule."},
      {"Agent", "The aims sidecar beside one replica (pod) of a model."},
      {"Replica slot",
       "A numbered place for one replica of a model; a new pod takes over the "
       "slot of the one it replaces, so coverage follows the slot."},
      {"Audit trail",
       "Every state change and action, each record chained to the previous "
       "one by a hash, so a changed or removed record is detected."},
  };
}

}  // namespace

ReportDocument BuildReportDocument(const v1::ComplianceReport& r) {
  const std::map<std::string, std::string> agents = AgentNames(r);
  ReportDocument doc;
  doc.title = "aims compliance report";
  doc.facts = Facts(r);
  doc.tables.push_back(PlanTable(r));
  doc.tables.push_back(SummaryTable(r.totals()));
  doc.tables.push_back(ObjectivesTable(r));
  doc.tables.push_back(ResultsTable(r, agents));
  doc.tables.push_back(TrendTable(r));
  doc.tables.push_back(OpenTable(r, agents));
  doc.tables.push_back(NonconformitiesTable(r, agents));
  if (r.fleet_size() > 0) doc.tables.push_back(FleetTable(r));
  doc.glossary = Glossary();
  return doc;
}

}  // namespace aims::collector

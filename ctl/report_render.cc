#include "ctl/report_render.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "collector/plan/names.h"
#include "collector/plan/plan.h"
#include "common/base/time_util.h"
#include "ctl/format.h"

namespace aims::ctl {
namespace {

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", FromProto(t),
                          absl::UTCTimeZone());
}

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

std::string Stage(v1::NonconformityStage s) { return collector::StageName(s); }

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
    if (t.to() == stage && t.from() != stage)
      out = absl::StrCat(t.comment(), " (", t.actor(), ", ", Time(t.at()), ")");
  }
  return out;
}

std::string ClosedAt(const v1::Nonconformity& nc) {
  for (const v1::Transition& t : nc.history()) {
    if (t.to() == v1::NONCONFORMITY_STAGE_CLOSED &&
        t.from() != v1::NONCONFORMITY_STAGE_CLOSED)
      return Time(t.at());
  }
  return "-";
}

std::string Evidence(const v1::Nonconformity& nc) {
  const v1::Evidence& e = nc.evidence();
  std::string s = absl::StrCat(
      e.value().metric(), " = ",
      MetricNumber(e.value().metric(), e.value().value()), " (must be ",
      e.comparator(), " ", MetricNumber(e.value().metric(), e.threshold()),
      "), n = ", e.value().sample_size());
  if (e.value().has_p_value())
    absl::StrAppend(&s, ", p = ", absl::StrFormat("%.3g", e.value().p_value()));
  const std::string decision = DecisionText(e);
  if (!decision.empty()) absl::StrAppend(&s, "; ", decision);
  return s;
}

// Heading facts: period, generation time, collector, audit trail state.
std::vector<std::pair<std::string, std::string>> Facts(
    const v1::ComplianceReport& r) {
  return {
      {"Period", absl::StrCat(Time(r.from()), " to ", Time(r.to()))},
      {"Generated", Time(r.generated_at())},
      {"Collector", r.collector_id().empty() ? "-" : r.collector_id()},
      {"Audit trail",
       r.audit().intact()
           ? absl::StrCat("intact (hash chain verified over ",
                          r.audit().records_checked(), " records)")
           : absl::StrCat("BROKEN at record ", r.audit().first_broken_index(),
                          ": ", r.audit().detail())},
  };
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
    plan.rows.push_back({p.version().substr(0, 16), Time(p.loaded_at()),
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
                               collector::SeverityText(o.severity()),
                               o.owner().empty() ? "-" : o.owner(),
                               absl::StrJoin(o.iso_references(), ", ")});
  }
  return objectives;
}

// 9.1: how each objective series fared over the period.
ReportTable ResultsTable(const v1::ComplianceReport& r) {
  const double period =
      absl::ToDoubleSeconds(CoveredUntil(r) - FromProto(r.from()));
  ReportTable results{
      "results",
      "9.1 Monitoring results",
      "Share of the period (%) each objective series spent holding, breached "
      "but within `for` (pending), firing, with too few samples "
      "(insufficient), before its first evaluation, and beyond its "
      "threshold without the evidence to show a breach (possible breach, "
      "never a nonconformity).",
      {"Objective", "Series", "Held %", "Pending %", "Firing %",
       "Insufficient %", "Unevaluated %", "Firings", "State at end",
       "Last value", "Nonconformities", "Possible breach %"},
      {}};
  for (const v1::ObjectiveResults& o : r.objectives()) {
    if (o.series().empty()) {
      results.rows.push_back({o.objective_id(), "(no data)", "-", "-", "-", "-",
                              "-", "0", "-", "-", "-", "-"});
    }
    for (const v1::SeriesResult& s : o.series()) {
      results.rows.push_back(
          {o.objective_id(), s.series(), Percent(s.held_seconds(), period),
           Percent(s.pending_seconds(), period),
           Percent(s.firing_seconds(), period),
           Percent(s.insufficient_seconds(), period),
           Percent(s.unevaluated_seconds(), period), absl::StrCat(s.firings()),
           collector::ObjectiveStateName(s.state_at_end()),
           s.has_last_value()
               ? MetricNumber(s.last_value().metric(), s.last_value().value())
               : "-",
           s.nonconformity_ids().empty()
               ? "-"
               : absl::StrJoin(s.nonconformity_ids(), " "),
           Percent(s.possible_breach_seconds(), period)});
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
                   " bucket, for management review; open = not closed at the "
                   "bucket's end."),
      {"Bucket start", "Opened", "Recurred", "Acknowledged", "Actions recorded",
       "Closed", "Auto-resolved", "Open"},
      {}};
  for (const v1::TrendBucket& b : r.trend()) {
    trend.rows.push_back(
        {Time(b.start()), absl::StrCat(b.opened()), absl::StrCat(b.recurred()),
         absl::StrCat(b.acknowledged()), absl::StrCat(b.actions_recorded()),
         absl::StrCat(b.closed()), absl::StrCat(b.auto_resolved()),
         absl::StrCat(b.open_at_end())});
  }
  return trend;
}

ReportTable OpenTable(const v1::ComplianceReport& r) {
  const absl::Time end = CoveredUntil(r);
  ReportTable open{"open",
                   "Open items",
                   "Nonconformities not closed at the end of the period, "
                   "oldest first, with the next clause 10.2 step.",
                   {"Id", "Severity", "Objective", "Series", "Opened", "Age",
                    "Stage", "Owner", "Next step"},
                   {}};
  for (const v1::Nonconformity& nc : r.open_items()) {
    open.rows.push_back(
        {nc.id(), collector::SeverityText(nc.severity()), nc.objective_id(),
         nc.series(), Time(nc.opened_at()),
         Span(absl::ToDoubleSeconds(end - FromProto(nc.opened_at()))),
         Stage(nc.stage()) + (nc.auto_resolved() ? " (auto-resolved)" : ""),
         nc.owner().empty() ? "-" : nc.owner(), NextStep(nc.stage())});
  }
  return open;
}

ReportTable NonconformitiesTable(const v1::ComplianceReport& r) {
  ReportTable ncs{"nonconformities",
                  "Nonconformities of the period",
                  "Every nonconformity open during the period, with its "
                  "evidence, cause and corrective action (clause 10.2).",
                  {"Id", "Objective", "Series", "Opened", "Occurrences",
                   "Evidence", "Stage", "Cause", "Corrective action", "Closed"},
                  {}};
  for (const v1::Nonconformity& nc : r.nonconformities()) {
    ncs.rows.push_back(
        {nc.id(), nc.objective_id(), nc.series(), Time(nc.opened_at()),
         absl::StrCat(nc.occurrences()), Evidence(nc), Stage(nc.stage()),
         StepComment(nc, v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED),
         StepComment(nc, v1::NONCONFORMITY_STAGE_ACTION_RECORDED),
         ClosedAt(nc)});
  }
  return ncs;
}

}  // namespace

ReportDocument BuildReportDocument(const v1::ComplianceReport& r) {
  ReportDocument doc;
  doc.title = "aims compliance report";
  doc.facts = Facts(r);
  doc.tables.push_back(PlanTable(r));
  doc.tables.push_back(SummaryTable(r.totals()));
  doc.tables.push_back(ObjectivesTable(r));
  doc.tables.push_back(ResultsTable(r));
  doc.tables.push_back(TrendTable(r));
  doc.tables.push_back(OpenTable(r));
  doc.tables.push_back(NonconformitiesTable(r));
  return doc;
}

std::string RenderMarkdown(const ReportDocument& doc) {
  auto cell = [](const std::string& s) {
    return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}, {"\r", " "}});
  };
  std::string out = absl::StrCat("# ", doc.title, "\n\n");
  for (const auto& [key, value] : doc.facts)
    absl::StrAppend(&out, "- **", key, ":** ", cell(value), "\n");
  for (const ReportTable& t : doc.tables) {
    absl::StrAppend(&out, "\n## ", t.title, "\n\n");
    if (!t.intro.empty()) absl::StrAppend(&out, t.intro, "\n\n");
    if (t.rows.empty()) {
      absl::StrAppend(&out, "None.\n");
      continue;
    }
    std::vector<std::string> header, rule;
    for (const std::string& h : t.header) {
      header.push_back(cell(h));
      rule.push_back("---");
    }
    absl::StrAppend(&out, "| ", absl::StrJoin(header, " | "), " |\n| ",
                    absl::StrJoin(rule, " | "), " |\n");
    for (const auto& row : t.rows) {
      std::vector<std::string> cells;
      for (const std::string& c : row) cells.push_back(cell(c));
      absl::StrAppend(&out, "| ", absl::StrJoin(cells, " | "), " |\n");
    }
  }
  return out;
}

std::string RenderHtml(const ReportDocument& doc) {
  auto esc = [](const std::string& s) {
    return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                   {"<", "&lt;"},
                                   {">", "&gt;"},
                                   {"\"", "&quot;"},
                                   {"'", "&#39;"}});
  };
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>",
      esc(doc.title),
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:2em;color:#222}\n"
      "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
      "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;"
      "vertical-align:top}\nth{background:#eee}\n"
      "</style>\n</head>\n<body>\n<h1>",
      esc(doc.title), "</h1>\n<ul>\n");
  for (const auto& [key, value] : doc.facts)
    absl::StrAppend(&out, "<li><b>", esc(key), ":</b> ", esc(value), "</li>\n");
  absl::StrAppend(&out, "</ul>\n");
  for (const ReportTable& t : doc.tables) {
    absl::StrAppend(&out, "<h2 id=\"", esc(t.name), "\">", esc(t.title),
                    "</h2>\n");
    if (!t.intro.empty()) absl::StrAppend(&out, "<p>", esc(t.intro), "</p>\n");
    if (t.rows.empty()) {
      absl::StrAppend(&out, "<p>None.</p>\n");
      continue;
    }
    absl::StrAppend(&out, "<table>\n<tr>");
    for (const std::string& h : t.header)
      absl::StrAppend(&out, "<th>", esc(h), "</th>");
    absl::StrAppend(&out, "</tr>\n");
    for (const auto& row : t.rows) {
      absl::StrAppend(&out, "<tr>");
      for (const std::string& c : row)
        absl::StrAppend(&out, "<td>", esc(c), "</td>");
      absl::StrAppend(&out, "</tr>\n");
    }
    absl::StrAppend(&out, "</table>\n");
  }
  absl::StrAppend(&out, "</body>\n</html>\n");
  return out;
}

absl::StatusOr<std::string> RenderCsv(const ReportDocument& doc,
                                      absl::string_view table) {
  auto field = [](std::string s) {
    // A cell a spreadsheet would run as a formula (people's comments travel
    // here) is prefixed with ' unless it is a plain number.
    double number = 0;
    if (!s.empty() && s != "-" && std::strchr("=+-@\t\r", s[0]) != nullptr &&
        !absl::SimpleAtod(s, &number)) {
      s = "'" + s;
    }
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
  };
  std::vector<std::string> names;
  for (const ReportTable& t : doc.tables) {
    names.push_back(t.name);
    if (t.name != table) continue;
    std::string out;
    std::vector<std::string> cells;
    for (const std::string& h : t.header) cells.push_back(field(h));
    absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
    for (const auto& row : t.rows) {
      cells.clear();
      for (const std::string& c : row) cells.push_back(field(c));
      absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
    }
    return out;
  }
  return absl::NotFoundError(absl::StrCat(
      "--table: '", table, "' is not one of ", absl::StrJoin(names, ", ")));
}

}  // namespace aims::ctl

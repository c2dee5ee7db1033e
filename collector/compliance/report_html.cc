#include "collector/compliance/report_html.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "collector/compliance/report_document.h"
#include "collector/compliance/svg_chart.h"
#include "collector/plan/names.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

constexpr char kStyle[] = R"css(
body{font-family:system-ui,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;
 line-height:1.4;max-width:1140px;margin:1.5em auto;padding:0 1em}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:2px solid #ddd}
h3{margin:.2em 0}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .4em;text-align:left;
 vertical-align:top;white-space:nowrap}
th.w,td.w{white-space:normal;overflow-wrap:break-word}
table.narrow{width:auto;min-width:50%}
th{background:#eee}
.card{border:1px solid #ccc;border-radius:4px;padding:.6em 1em;margin:1em 0}
dl{display:grid;grid-template-columns:11em 1fr;gap:.15em 1em;margin:.5em 0}
dt{font-weight:600;color:#555}dd{margin:0;overflow-wrap:anywhere}
.evidence{font-size:1.05em}
.series{margin:.8em 0}.caption{font-size:.9em;color:#444}
svg.chart{width:100%;max-width:760px;height:auto;display:block}
svg.share{border:1px solid #999;background:#fff;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #999;
 vertical-align:middle;-webkit-print-color-adjust:exact;
 print-color-adjust:exact}
.st{padding:0 .35em;border-radius:3px;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
.st-firing,.st-open,.st-broken{background:#fdd;color:#8b0000}
.st-pending,.st-possible_breach,.st-acknowledged,.st-cause_analysed,
.st-action_recorded,.st-effectiveness_reviewed{background:#fff0c2;color:#6b4a00}
.st-inactive,.st-resolved,.st-closed,.st-intact{background:#dff3df;color:#1b5e20}
.st-insufficient_evidence,.st-unevaluated,.st-invalid{background:#eee;color:#444}
.st-risk_accepted{background:#ece4f7;color:#4a2a7a}
.lede{font-size:1.05em}
@media print{
 @page{size:A4;margin:14mm}
 body{max-width:none;margin:0;padding:0;font-size:10pt}
 h2{break-after:avoid}thead{display:table-header-group}
 table{font-size:8pt}th.w,td.w{overflow-wrap:anywhere}
 tr,.card,.series,svg{break-inside:avoid}
 a{color:inherit;text-decoration:none}
 .st{border:1px solid currentColor}
}
)css";

std::string Esc(const std::string& s) { return XmlEscape(s); }

// A state or stage name in its colour: "risk accepted" has the class
// st-risk_accepted, "insufficient_evidence" reads "insufficient evidence".
std::string StateBadge(const std::string& text) {
  std::string key = text.substr(0, text.find(" ("));
  for (char& c : key) c = absl::ascii_isalnum(c) ? c : '_';
  return absl::StrCat("<span class=\"st st-", key, "\">",
                      Esc(absl::StrReplaceAll(text, {{"_", " "}})), "</span>");
}

// Short tokens (ids, numbers, states) stay on one line; text wraps.
std::string Cell(const char* tag, const std::string& text,
                 const std::string& html) {
  const bool wraps = text.find(' ') != std::string::npos || text.size() > 16;
  return absl::StrCat("<", tag, wraps ? " class=\"w\">" : ">", html, "</", tag,
                      ">");
}

const ReportTable* Find(const ReportDocument& doc, const std::string& name) {
  for (const ReportTable& t : doc.tables)
    if (t.name == name) return &t;
  return nullptr;
}

void Heading(const ReportTable& t, std::string* out) {
  absl::StrAppend(out, "<h2 id=\"", Esc(t.name), "\">", Esc(t.title),
                  "</h2>\n");
  if (!t.intro.empty()) absl::StrAppend(out, "<p>", Esc(t.intro), "</p>\n");
}

void Table(const ReportTable& t, std::string* out) {
  if (t.rows.empty()) {
    absl::StrAppend(out, "<p>None.</p>\n");
    return;
  }
  // Columns with nothing in any row (no due dates, no tickets) are left out.
  std::vector<bool> shown(t.header.size(), false);
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < row.size() && i < shown.size(); ++i)
      shown[i] = shown[i] || (row[i] != "-" && !row[i].empty());
  }
  absl::StrAppend(out,
                  t.header.size() <= 4 ? "<table class=\"narrow\">" : "<table>",
                  "\n<thead><tr>");
  for (size_t i = 0; i < t.header.size(); ++i) {
    if (shown[i])
      absl::StrAppend(out, Cell("th", t.header[i], Esc(t.header[i])));
  }
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
  for (const auto& row : t.rows) {
    absl::StrAppend(out, "<tr>");
    for (size_t i = 0; i < row.size(); ++i) {
      if (i < shown.size() && !shown[i]) continue;
      const bool state = static_cast<int>(i) == t.state_column && row[i] != "-";
      absl::StrAppend(
          out, Cell("td", row[i], state ? StateBadge(row[i]) : Esc(row[i])));
    }
    absl::StrAppend(out, "</tr>\n");
  }
  absl::StrAppend(out, "</tbody>\n</table>\n");
}

// Each row as a card: the first columns as its heading, the rest as a
// definition list, `lead` (a column index, or -1) as a paragraph first.
void Cards(const ReportTable& t, size_t heading_columns, int lead,
           const std::map<std::string, std::string>& titles,
           const std::map<std::string, std::string>& extra_html,
           std::string* out) {
  if (t.rows.empty()) {
    absl::StrAppend(out, "<p>None.</p>\n");
    return;
  }
  for (const auto& row : t.rows) {
    std::vector<std::string> heading;
    for (size_t i = 0; i < heading_columns && i < row.size(); ++i)
      heading.push_back(Esc(row[i]));
    auto title = titles.find(row[0]);
    if (title != titles.end()) heading.push_back(Esc(title->second));
    absl::StrAppend(out, "<div class=\"card\" id=\"", Esc(row[0]), "\">\n<h3>",
                    absl::StrJoin(heading, ": "));
    if (t.state_column >= 0)
      absl::StrAppend(out, " ", StateBadge(row[t.state_column]));
    absl::StrAppend(out, "</h3>\n");
    if (lead >= 0) {
      absl::StrAppend(out, "<p class=\"evidence\">", Esc(row[lead]), "</p>\n");
    }
    absl::StrAppend(out, "<dl>\n");
    for (size_t i = heading_columns; i < row.size(); ++i) {
      // Nothing recorded (no due date, no ticket, no ending yet): left out.
      if (static_cast<int>(i) == lead ||
          static_cast<int>(i) == t.state_column || row[i] == "-") {
        continue;
      }
      absl::StrAppend(out, "<dt>", Esc(t.header[i]), "</dt><dd>", Esc(row[i]),
                      "</dd>\n");
    }
    absl::StrAppend(out, "</dl>\n");
    auto extra = extra_html.find(row[0]);
    if (extra != extra_html.end()) absl::StrAppend(out, extra->second);
    absl::StrAppend(out, "</div>\n");
  }
}

double Seconds(const google::protobuf::Timestamp& t) {
  return absl::ToDoubleSeconds(FromProto(t) - absl::UnixEpoch());
}

std::string ChartTime(double unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M",
                          absl::FromUnixSeconds(std::llround(unix_seconds)),
                          absl::UTCTimeZone());
}

// Objective id -> the charts of its series: values over the period against
// the threshold.
std::map<std::string, std::string> ObjectiveCharts(
    const v1::ComplianceReport& r,
    const std::map<std::string, std::string>& agents) {
  std::map<std::string, std::string> charts;
  const double from = Seconds(r.from());
  const double to = std::min(Seconds(r.to()), Seconds(r.generated_at()));
  for (const v1::ObjectiveResults& o : r.objectives()) {
    for (const v1::SeriesResult& s : o.series()) {
      LineChartSpec spec;
      spec.x_min = from;
      spec.x_max = to;
      const std::string metric = o.metric();
      uint64_t backfilled = 0, events = 0;
      for (const v1::MetricPoint& p : s.values()) {
        backfilled += p.backfilled_events();
        events += p.event_count();
        if (p.values().empty()) continue;
        const v1::MetricValue& v = p.values(0);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const bool ok = v.state() == v1::EVIDENCE_STATE_OK;
        const bool ci = ok && (v.ci_low() != 0 || v.ci_high() != 0);
        spec.points.push_back({(Seconds(p.start()) + Seconds(p.end())) / 2,
                               ok ? v.value() : nan, ci ? v.ci_low() : nan,
                               ci ? v.ci_high() : nan});
      }
      const std::string series = SeriesText(s.series(), agents);
      spec.title = absl::StrCat(o.objective_id(), ": ", metric, " of ", series,
                                " over the period");
      spec.line_label = absl::StrCat(metric, " (shaded: 95% interval)");
      spec.threshold = o.threshold();
      spec.threshold_label =
          absl::StrCat("threshold: must be ",
                       RequirementText(metric, o.comparator(), o.threshold()));
      spec.x_text = ChartTime;
      spec.y_text = [metric](double v) { return MetricNumber(metric, v); };
      const std::string svg = LineChart(spec);
      absl::StrAppend(
          &charts[o.objective_id()], "<div class=\"series\">\n",
          svg.empty() ? "" : svg, "<div class=\"caption\">", Esc(series), " ",
          StateBadge(ObjectiveStateName(s.state_at_end())),
          svg.empty() && !o.builtin() ? " (no values stored for the period)"
                                      : "",
          backfilled > 0
              ? absl::StrCat(" (backfilled: ", backfilled, " of ", events,
                             " events were loaded by aimsctl backfill)")
              : "",
          "</div>\n</div>\n");
    }
  }
  return charts;
}

// 9.1 results: per series a bar of how the period was spent, the shares in
// words, then firings, state at the end, last value and nonconformities
// (the 13 columns of the CSV would not fit a page; the chart captions say
// what was backfilled).
void Results(const v1::ComplianceReport& r,
             const std::map<std::string, std::string>& agents,
             std::string* out) {
  const double period = absl::ToDoubleSeconds(
      std::min(FromProto(r.to()), FromProto(r.generated_at())) -
      FromProto(r.from()));
  struct Part {
    const char* label;
    const char* color;
    double (v1::SeriesResult::*seconds)() const;
  };
  static constexpr Part kParts[] = {
      {"held", "#66bb6a", &v1::SeriesResult::held_seconds},
      {"pending", "#ffb300", &v1::SeriesResult::pending_seconds},
      {"firing", "#e53935", &v1::SeriesResult::firing_seconds},
      {"possible breach", "#fdd835",
       &v1::SeriesResult::possible_breach_seconds},
      {"insufficient evidence", "#9e9e9e",
       &v1::SeriesResult::insufficient_seconds},
      {"unevaluated", "#e0e0e0", &v1::SeriesResult::unevaluated_seconds},
  };
  absl::StrAppend(out, "<p class=\"caption\">");
  for (const Part& p : kParts) {
    absl::StrAppend(out, "<span class=\"swatch\" style=\"background:", p.color,
                    "\"></span> ", p.label, " &nbsp; ");
  }
  absl::StrAppend(out,
                  "</p>\n<table>\n<thead><tr><th>Objective</th><th>Series"
                  "</th><th class=\"w\">How the period was spent</th>"
                  "<th>Firings</th><th class=\"w\">State at end</th>"
                  "<th class=\"w\">Last value</th><th>Nonconformities</th>"
                  "</tr></thead>\n<tbody>\n");
  for (const v1::ObjectiveResults& o : r.objectives()) {
    if (o.series().empty()) {
      absl::StrAppend(out, "<tr>",
                      Cell("td", o.objective_id(), Esc(o.objective_id())),
                      "<td colspan=\"6\">no data</td></tr>\n");
    }
    for (const v1::SeriesResult& s : o.series()) {
      std::string bar, words;
      double x = 0;
      for (const Part& p : kParts) {
        const double share = period > 0 ? (s.*p.seconds)() / period : 0;
        if (share <= 0) continue;
        absl::StrAppend(&bar, "<rect x=\"", absl::StrFormat("%.1f", x * 160),
                        "\" width=\"", absl::StrFormat("%.1f", share * 160),
                        "\" height=\"12\" fill=\"", p.color, "\"/>");
        x += share;
        absl::StrAppend(&words, words.empty() ? "" : ", ", p.label, " ",
                        absl::StrFormat("%.1f%%", share * 100));
      }
      const std::string series = SeriesText(s.series(), agents);
      const std::string state = ObjectiveStateName(s.state_at_end());
      const std::string last =
          s.has_last_value()
              ? MetricNumber(s.last_value().metric(), s.last_value().value())
              : "-";
      const std::string ncs = s.nonconformity_ids().empty()
                                  ? "-"
                                  : absl::StrJoin(s.nonconformity_ids(), " ");
      absl::StrAppend(
          out, "<tr>", Cell("td", o.objective_id(), Esc(o.objective_id())),
          Cell("td", series, Esc(series)),
          "<td class=\"w\"><svg class=\"share\" viewBox=\"0 0 160 12\" "
          "width=\"160\" height=\"12\" role=\"img\"><title>",
          Esc(words), "</title>", bar, "</svg><br>", Esc(words), "</td>",
          Cell("td", absl::StrCat(s.firings()), absl::StrCat(s.firings())),
          Cell("td", state, StateBadge(state)), Cell("td", last, Esc(last)),
          Cell("td", ncs, Esc(ncs)), "</tr>\n");
    }
  }
  absl::StrAppend(out, "</tbody>\n</table>\n");
}

std::string TrendChart(const v1::ComplianceReport& r) {
  BarChartSpec spec;
  spec.title =
      "Nonconformities opened, corrective actions recorded and "
      "nonconformities closed per bucket, with those still open";
  BarSeries opened{"opened", "#d32f2f", {}};
  BarSeries actions{"actions recorded", "#1976d2", {}};
  BarSeries closed{"closed", "#388e3c", {}};
  BarSeries open{"open at the bucket's end", "#f57c00", {}};
  for (const v1::TrendBucket& b : r.trend()) {
    spec.groups.push_back(ReportTime(b.start()));
    opened.values.push_back(b.opened());
    actions.values.push_back(b.actions_recorded());
    closed.values.push_back(b.closed());
    open.values.push_back(b.open_at_end());
  }
  spec.bars = {opened, actions, closed};
  spec.line = open;
  return BarChart(spec);
}

// The summary as sentences, then its table.
std::string Lede(const v1::ComplianceReport& r) {
  const v1::ComplianceTotals& t = r.totals();
  return absl::StrCat(
      "<p class=\"lede\">In this period aims monitored ", t.objectives(),
      " objectives over ", t.series(), " series; ", t.series_held(),
      " never fired. ", t.opened(), " nonconformities were opened and ",
      t.closed(), " closed; ", t.false_alarms(), " ended as false alarms and ",
      t.risk_accepted(), " with the risk accepted. ", t.open_at_end(),
      " remained open at the end of the period. The audit trail is ",
      StateBadge(r.audit().intact() ? "intact" : "broken"), ".</p>\n");
}

}  // namespace

std::string RenderHtml(const v1::ComplianceReport& r) {
  const ReportDocument doc = BuildReportDocument(r);
  const std::map<std::string, std::string> agents = AgentNames(r);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n<title>",
      Esc(doc.title), "</title>\n<style>", kStyle,
      "</style>\n</head>\n<body>\n", "<h1>", Esc(doc.title), "</h1>\n<ul>\n");
  for (const auto& [key, value] : doc.facts)
    absl::StrAppend(&out, "<li><b>", Esc(key), ":</b> ", Esc(value), "</li>\n");
  absl::StrAppend(&out, "</ul>\n", Lede(r));

  const ReportTable* summary = Find(doc, "summary");
  Heading(*summary, &out);
  Table(*summary, &out);

  const ReportTable* trend = Find(doc, "trend");
  Heading(*trend, &out);
  absl::StrAppend(&out, TrendChart(r));
  Table(*trend, &out);

  const ReportTable* objectives = Find(doc, "objectives");
  Heading(*objectives, &out);
  Cards(*objectives, 2, -1, {}, ObjectiveCharts(r, agents), &out);

  const ReportTable* results = Find(doc, "results");
  Heading(*results, &out);
  Results(r, agents, &out);
  const ReportTable* open = Find(doc, "open");
  Heading(*open, &out);
  Table(*open, &out);
  const ReportTable* ncs = Find(doc, "nonconformities");
  Heading(*ncs, &out);
  // Each nonconformity headed by what was not kept: the objective's title.
  std::map<std::string, std::string> titles;
  for (const v1::Nonconformity& nc : r.nonconformities()) {
    if (!nc.title().empty()) titles[nc.id()] = nc.title();
  }
  Cards(*ncs, 1, 5, titles, {}, &out);

  const ReportTable* plan = Find(doc, "plan");
  Heading(*plan, &out);
  Table(*plan, &out);
  if (const ReportTable* fleet = Find(doc, "fleet"); fleet != nullptr) {
    Heading(*fleet, &out);
    Table(*fleet, &out);
  }

  absl::StrAppend(&out, "<h2 id=\"glossary\">Glossary</h2>\n<dl>\n");
  for (const auto& [term, meaning] : doc.glossary) {
    absl::StrAppend(&out, "<dt>", Esc(term), "</dt><dd>", Esc(meaning),
                    "</dd>\n");
  }
  absl::StrAppend(&out, "</dl>\n</body>\n</html>\n");
  return out;
}

}  // namespace aims::collector

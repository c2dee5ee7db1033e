// The renderings of a report (collector/compliance/report_render.h) say the
// same thing, read as plain sentences with pod names, coloured states,
// charts and a glossary, and text from outside (titles, comments, series
// names) cannot break their syntax.
#include "collector/compliance/report_render.h"

#include <regex>

#include "absl/strings/str_split.h"
#include "collector/compliance/report_document.h"
#include "collector/compliance/report_html.h"
#include "collector/compliance/report_text.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

v1::ComplianceReport Sample() {
  v1::ComplianceReport r;
  const absl::Time from = absl::FromUnixSeconds(1'800'000'000);
  *r.mutable_from() = ToProto(from);
  *r.mutable_to() = ToProto(from + absl::Hours(1));
  *r.mutable_generated_at() = ToProto(from + absl::Hours(2));
  *r.mutable_bucket() = ToProtoDuration(absl::Hours(1));
  r.set_collector_id("c1");
  r.mutable_audit()->set_intact(true);
  r.mutable_audit()->set_records_checked(12);
  v1::ObjectiveResults* o = r.add_objectives();
  o->set_objective_id("parity");
  o->set_title("Fair <b>approvals</b> | \"quoted\", with comma");
  o->set_metric("demographic_parity_ratio");
  o->set_scope("attribute=gender");
  o->set_comparator(">=");
  o->set_threshold(0.8);
  *o->mutable_window() = ToProtoDuration(absl::Minutes(30));
  o->set_in_current_plan(true);
  o->add_iso_references("9.1");
  o->add_iso_references("A.6.2.6");
  v1::SeriesResult* s = o->add_series();
  s->set_series("credit/v1/prod attribute=gender");
  s->set_held_seconds(2700);
  s->set_firing_seconds(900);
  s->set_firings(1);
  s->set_state_at_end(v1::OBJECTIVE_STATE_FIRING);
  s->mutable_last_value()->set_value(0.41);
  s->add_nonconformity_ids("NC-000007");
  v1::TrendBucket* b = r.add_trend();
  *b->mutable_start() = ToProto(from);
  b->set_opened(1);
  b->set_open_at_end(1);
  v1::Nonconformity* nc = r.add_open_items();
  nc->set_id("NC-000007");
  nc->set_objective_id("parity");
  nc->set_stage(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  nc->set_severity(v1::SEVERITY_CRITICAL);
  nc->set_series("credit/v1/prod attribute=gender");
  *nc->mutable_opened_at() = ToProto(from + absl::Minutes(45));
  *r.add_nonconformities() = *nc;
  r.mutable_nonconformities(0)->mutable_evidence()->mutable_value()->set_metric(
      "demographic_parity_ratio");
  r.mutable_nonconformities(0)->mutable_evidence()->mutable_value()->set_value(
      0.41);
  r.mutable_nonconformities(0)->mutable_evidence()->set_comparator(">=");
  r.mutable_nonconformities(0)->mutable_evidence()->set_threshold(0.8);
  r.mutable_totals()->set_opened(1);
  return r;
}

TEST(ReportRenderTest, MarkdownHasEverySectionAndEscapesPipes) {
  const std::string md = RenderMarkdown(BuildReportDocument(Sample()));
  for (const char* heading :
       {"# aims compliance report", "## 9.1 What is monitored, how and when",
        "## 9.1 Monitoring results",
        "## 9.3 Nonconformity and corrective-action trend", "## Open items",
        "## Nonconformities of the period", "## Monitoring plan versions"}) {
    EXPECT_NE(md.find(heading), std::string::npos) << heading;
  }
  EXPECT_NE(md.find("- **Audit trail:** intact (hash chain verified over 12 "
                    "records)"),
            std::string::npos);
  // 45 of 60 minutes held, 15 firing.
  EXPECT_NE(md.find("| parity | credit/v1/prod attribute=gender | 75.0 | 0.0 "
                    "| 25.0 | 0.0 | 0.0 | 1 | firing | 0.41 | NC-000007 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Fair <b>approvals</b> \\| \"quoted\""), std::string::npos);
  EXPECT_NE(
      md.find(
          "| NC-000007 | critical | parity | credit/v1/prod attribute=gender | "
          "2027-01-15 08:45:00Z | "
          "15m 0s | acknowledged | - | analyse the cause"),
      std::string::npos)
      << md;
  // No plan versions: the section says so instead of an empty table.
  EXPECT_NE(md.find("## Monitoring plan versions\n\nThe plan in force at the "
                    "start of the period and every version loaded during it "
                    "(SHA-256 of the plan file).\n\nNone.\n"),
            std::string::npos);
}

TEST(ReportRenderTest, HtmlEscapesOutsideText) {
  const std::string html = RenderHtml(Sample());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<b>approvals</b>"), std::string::npos);
  EXPECT_NE(html.find("Fair &lt;b&gt;approvals&lt;/b&gt; | &quot;quoted&quot;"),
            std::string::npos);
  EXPECT_NE(html.find("<h2 id=\"results\">9.1 Monitoring results</h2>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>NC-000007</td>"), std::string::npos);
}

TEST(ReportRenderTest, CsvQuotesFieldsAndNamesUnknownTables) {
  const ReportDocument doc = BuildReportDocument(Sample());
  absl::StatusOr<std::string> csv = RenderCsv(doc, "objectives");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->substr(0, csv->find("\r\n")),
            "Objective,Title,Criterion,What,Method,When measured,When "
            "analysed,Severity,Owner,ISO/IEC 42001");
  EXPECT_NE(csv->find("parity,\"Fair <b>approvals</b> | \"\"quoted\"\", with "
                      "comma\",demographic_parity_ratio attribute=gender >= "
                      "0.8 over 30m,"),
            std::string::npos)
      << *csv;
  EXPECT_NE(csv->find(",\"9.1, A.6.2.6\"\r\n"), std::string::npos) << *csv;
  csv = RenderCsv(doc, "trend");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv,
            "Bucket start,Opened,Recurred,Acknowledged,Actions "
            "recorded,Closed,Auto-resolved,Open,Invalid,Risk accepted\r\n"
            "2027-01-15 08:00:00Z,1,0,0,0,0,0,1,0,0\r\n");
  // Text a spreadsheet would run as a formula is defused; numbers are not.
  v1::ComplianceReport sample = Sample();
  sample.mutable_objectives(0)->set_title("@SUM(A1)");
  sample.mutable_objectives(0)->set_threshold(-0.5);
  csv = RenderCsv(BuildReportDocument(sample), "objectives");
  ASSERT_TRUE(csv.ok());
  EXPECT_NE(csv->find("\r\nparity,'@SUM(A1),"), std::string::npos) << *csv;
  csv = RenderCsv(BuildReportDocument(sample), "summary");
  ASSERT_TRUE(csv.ok());
  EXPECT_NE(csv->find("\r\nMean time to close,-\r\n"), std::string::npos)
      << *csv;
  csv = RenderCsv(doc, "everything");
  EXPECT_EQ(csv.status().message(),
            "table: 'everything' is not one of plan, summary, objectives, "
            "results, trend, open, nonconformities");
}

// Occurrences of `needle` in `haystack`.
int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The coordinate pairs of each <polyline class="values"> in `svg`.
std::vector<int> PolylinePoints(const std::string& svg) {
  std::vector<int> counts;
  const std::regex polyline("<polyline class=\"values\" points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    const std::vector<std::string> pairs =
        absl::StrSplit((*it)[1].str(), ' ', absl::SkipEmpty());
    counts.push_back(static_cast<int>(pairs.size()));
  }
  return counts;
}

// A drift nonconformity as the demo raises it.
v1::Nonconformity DriftShare() {
  v1::Nonconformity nc;
  nc.set_id("NC-000002");
  nc.set_objective_id("input-drift");
  nc.set_series("credit/v1/prod");
  nc.set_stage(v1::NONCONFORMITY_STAGE_OPEN);
  v1::Evidence* e = nc.mutable_evidence();
  e->mutable_value()->set_metric("drifted_feature_share");
  e->mutable_value()->set_value(4.0 / 9);
  e->mutable_value()->set_sample_size(9);
  e->set_comparator("<");
  e->set_threshold(0.4);
  e->set_decision("interval");
  return nc;
}

// Fleet mode: the report names every collector, its audit trail, and the
// ones that did not answer, whose entries it lacks; a single collector's
// report has no fleet section.
TEST(ReportRenderTest, FleetReportsNameSilentCollectorsAndEachAuditTrail) {
  const std::string single = RenderMarkdown(BuildReportDocument(Sample()));
  EXPECT_EQ(single.find("Fleet"), std::string::npos);
  EXPECT_FALSE(RenderCsv(BuildReportDocument(Sample()), "fleet").ok());

  v1::ComplianceReport r = Sample();
  v1::FleetCollector* self = r.add_fleet();
  self->set_address("10.0.0.1:4317");
  self->set_self(true);
  self->set_answered(true);
  self->mutable_audit()->set_intact(true);
  self->mutable_audit()->set_records_checked(40);
  v1::FleetCollector* broken = r.add_fleet();
  broken->set_address("10.0.0.2:4317");
  broken->set_answered(true);
  broken->mutable_audit()->set_first_broken_index(7);
  broken->mutable_audit()->set_detail("hash mismatch");
  v1::FleetCollector* silent = r.add_fleet();
  silent->set_address("10.0.0.3:4317");
  silent->set_error("did not answer");
  const std::string md = RenderMarkdown(BuildReportDocument(r));
  EXPECT_NE(md.find("- **Fleet:** 3 collectors; audit trail BROKEN on "
                    "10.0.0.2:4317; INCOMPLETE: 10.0.0.3:4317 did not answer"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 10.0.0.1:4317 (this report's) | yes | intact (hash "
                    "chain verified over 40 records) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 10.0.0.3:4317 | no | did not answer |"),
            std::string::npos)
      << md;
  absl::StatusOr<std::string> csv = RenderCsv(BuildReportDocument(r), "fleet");
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_NE(csv->find("10.0.0.2:4317,yes,BROKEN at record 7: hash mismatch"),
            std::string::npos)
      << *csv;
  const std::string html = RenderHtml(r);
  EXPECT_NE(html.find("<h2 id=\"fleet\">Collectors of the fleet</h2>"),
            std::string::npos);
}

TEST(ReportRenderTest, EvidenceReadsAsSentences) {
  EXPECT_EQ(EvidenceSentence(DriftShare()),
            "4 of the 9 input features judged had drifted (44%); the plan "
            "requires a share below 0.4. The value had no confidence "
            "interval, so the value itself decided.");
  v1::Nonconformity parity = Sample().nonconformities(0);
  v1::Evidence* e = parity.mutable_evidence();
  e->mutable_value()->set_attribute("gender");
  e->mutable_value()->set_sample_size(1946);
  e->mutable_value()->set_ci_low(0.35);
  e->mutable_value()->set_ci_high(0.47);
  e->set_decision("interval");
  e->set_confidence(0.95);
  EXPECT_EQ(EvidenceSentence(parity),
            "The demographic parity ratio across gender was 0.41; the plan "
            "requires at least 0.8. Measured on 1946 events in the smallest "
            "group. Its 95% confidence interval, 0.35 to 0.47, lay wholly "
            "beyond the threshold, so the breach is shown at that "
            "confidence.");
  // A slice objective's evidence names the slice.
  v1::Nonconformity sliced = Sample().nonconformities(0);
  sliced.mutable_evidence()->mutable_value()->set_metric("accuracy");
  sliced.mutable_evidence()->mutable_value()->set_slice("region=us");
  EXPECT_NE(EvidenceSentence(sliced).find("The accuracy for region=us was "),
            std::string::npos)
      << EvidenceSentence(sliced);
  // A breach found by catch-up on backfilled data says so.
  v1::Nonconformity backfilled = DriftShare();
  backfilled.mutable_evidence()->set_found_by("catch-up: backfilled data");
  EXPECT_NE(EvidenceSentence(backfilled)
                .find("Found by catch-up evaluation (the window was "
                      "backfilled)."),
            std::string::npos)
      << EvidenceSentence(backfilled);
  EXPECT_EQ(EvidenceSentence(DriftShare()).find("catch-up"), std::string::npos);
  // Every rendering carries the sentence, none the engineer's shorthand.
  v1::ComplianceReport r = Sample();
  *r.add_nonconformities() = DriftShare();
  const std::string html = RenderHtml(r);
  EXPECT_NE(html.find("<p class=\"evidence\">4 of the 9 input features judged "
                      "had drifted (44%)"),
            std::string::npos)
      << html;
  const std::string md = RenderMarkdown(BuildReportDocument(r));
  EXPECT_NE(md.find("| 4 of the 9 input features judged had drifted (44%)"),
            std::string::npos)
      << md;
  for (const std::string& text : {html, md}) {
    EXPECT_EQ(text.find("(must be"), std::string::npos);
    EXPECT_EQ(text.find("`for`"), std::string::npos);
    EXPECT_EQ(text.find("Collector:"), std::string::npos);
  }
}

TEST(ReportRenderTest, AgentsArePodNamesNotIds) {
  const std::string id = "157c22d1-b3f0-409b-84d1-ee52e2a01d8a";
  v1::ComplianceReport r = Sample();
  v1::ObjectiveResults* o = r.add_objectives();
  o->set_objective_id("coverage.agent-silent");
  o->set_metric("agent_silence_seconds");
  o->set_in_current_plan(true);
  o->add_series()->set_series("credit/v1/prod agent=" + id);
  o->add_series()->set_series("credit/v1/prod slot=2");
  v1::AgentInfo* a = r.add_agents();
  a->mutable_agent()->set_agent_id(id);
  a->mutable_agent()->set_pod("credit-scoring-1");
  a->mutable_agent()->set_host("node-7");
  v1::AgentInfo* b = r.add_agents();
  b->mutable_agent()->set_agent_id("b");
  b->mutable_agent()->set_pod("credit-scoring-2");
  b->mutable_model()->set_name("credit");
  b->mutable_model()->set_version("v1");
  b->mutable_model()->set_environment("prod");
  b->set_slot(2);
  for (const std::string& text :
       {RenderHtml(r), RenderMarkdown(BuildReportDocument(r)),
        *RenderCsv(BuildReportDocument(r), "results")}) {
    EXPECT_EQ(text.find(id), std::string::npos) << text;
    EXPECT_NE(text.find("credit/v1/prod agent credit-scoring-1 on node-7"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("credit/v1/prod replica slot 2 (credit-scoring-2)"),
              std::string::npos)
        << text;
  }
  EXPECT_EQ(SeriesText("m/v/e slot=3", AgentNames(r)), "m/v/e replica slot 3");
  // An agent the report does not know stays as its id.
  EXPECT_EQ(SeriesText("m/v/e agent=other", AgentNames(r)),
            "m/v/e agent=other");
}

TEST(ReportRenderTest, HtmlHasGlossaryColouredStatesWrappingAndPrintStyle) {
  const std::string html = RenderHtml(Sample());
  EXPECT_NE(html.find("<h2 id=\"glossary\">Glossary</h2>"), std::string::npos);
  EXPECT_NE(html.find("<dt>Possible breach</dt>"), std::string::npos);
  EXPECT_NE(html.find("@media print{"), std::string::npos);
  EXPECT_NE(html.find("overflow-wrap:anywhere"), std::string::npos);
  // States and stages are badges with a colour per class.
  EXPECT_NE(html.find("<td><span class=\"st st-firing\">firing</span></td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<td><span class=\"st st-acknowledged\">acknowledged"
                      "</span></td>"),
            std::string::npos);
  EXPECT_NE(html.find(".st-firing,"), std::string::npos);
  // How each series spent the period: a bar and the shares in words.
  EXPECT_NE(html.find("<title>held 75.0%, firing 25.0%</title><rect x=\"0.0\" "
                      "width=\"120.0\" height=\"12\" fill=\"#66bb6a\"/>"
                      "<rect x=\"120.0\" width=\"40.0\""),
            std::string::npos)
      << html;
  // The 10-column tables are cards, not tables.
  EXPECT_EQ(html.find("<th>When analysed</th>"), std::string::npos);
  EXPECT_NE(html.find("<dt>When analysed</dt>"), std::string::npos);
  EXPECT_EQ(html.find("<th>Corrective action</th>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"card\" id=\"NC-000007\">"),
            std::string::npos);
  EXPECT_NE(html.find("<h3>NC-000007 <span class=\"st st-acknowledged\">"),
            std::string::npos)
      << html;
  v1::ComplianceReport titled = Sample();
  titled.mutable_nonconformities(0)->set_title("Approvals are fair");
  EXPECT_NE(RenderHtml(titled).find("<h3>NC-000007: Approvals are fair <span"),
            std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportRenderTest, ChartsDrawTheTrendAndEachValueAgainstTheThreshold) {
  v1::ComplianceReport r = Sample();
  v1::SeriesResult* s = r.mutable_objectives(0)->mutable_series(0);
  const absl::Time from = FromProto(r.from());
  // Six steps of 10 minutes; the fourth had too few samples: two runs.
  for (int i = 0; i < 6; ++i) {
    v1::MetricPoint* p = s->add_values();
    *p->mutable_start() = ToProto(from + absl::Minutes(10 * i));
    *p->mutable_end() = ToProto(from + absl::Minutes(10 * (i + 1)));
    v1::MetricValue* v = p->add_values();
    v->set_metric("demographic_parity_ratio");
    v->set_value(0.9 - 0.1 * i);
    v->set_ci_low(0.85 - 0.1 * i);
    v->set_ci_high(0.95 - 0.1 * i);
    v->set_state(i == 3 ? v1::EVIDENCE_STATE_INSUFFICIENT
                        : v1::EVIDENCE_STATE_OK);
  }
  v1::TrendBucket* b = r.add_trend();
  *b->mutable_start() = ToProto(from + absl::Hours(1));
  b->set_actions_recorded(2);
  b->set_closed(1);
  b->set_open_at_end(0);
  const std::string html = RenderHtml(r);
  // Trend: opened 1 in the first bucket, 2 actions and 1 closure in the
  // second (a bar each), the open count as a line over both buckets.
  EXPECT_EQ(Count(html, "<rect class=\"bar\""), 3) << html;
  EXPECT_NE(html.find("<title>2027-01-15 09:00:00Z: 2 actions recorded"),
            std::string::npos);
  // Values: runs of 3 and 2 points, the band, the dashed threshold at 0.8.
  EXPECT_EQ(PolylinePoints(html), (std::vector<int>{2, 3, 2})) << html;
  EXPECT_EQ(Count(html, "<polygon class=\"band\""), 2);
  EXPECT_EQ(Count(html, "<line class=\"threshold\""), 1);
  EXPECT_NE(html.find("threshold: must be at least 0.8"), std::string::npos);
  // A series without values says so instead of an empty chart.
  s->clear_values();
  EXPECT_NE(RenderHtml(r).find("(no values stored for the period)"),
            std::string::npos);
}

// A series with backfilled windows says how many of its events were
// backfilled in every rendering; one without says "-".
TEST(ReportRenderTest, BackfilledEventsAreMarkedInEveryRendering) {
  v1::ComplianceReport r = Sample();
  v1::SeriesResult* s = r.mutable_objectives(0)->mutable_series(0);
  const absl::Time from = FromProto(r.from());
  for (int i = 0; i < 3; ++i) {
    v1::MetricPoint* p = s->add_values();
    *p->mutable_start() = ToProto(from + absl::Minutes(10 * i));
    *p->mutable_end() = ToProto(from + absl::Minutes(10 * (i + 1)));
    p->set_event_count(100);
    p->set_backfilled_events(i == 0 ? 0 : 100);
  }
  v1::SeriesResult* live = r.mutable_objectives(0)->add_series();
  live->set_series("credit/v1/prod attribute=region");
  live->add_values()->set_event_count(50);
  const ReportDocument doc = BuildReportDocument(r);
  const std::string md = RenderMarkdown(doc);
  EXPECT_NE(md.find("| NC-000007 | 0.0 | 200 of 300 events |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| credit/v1/prod attribute=region |"), std::string::npos);
  EXPECT_NE(md.find("| - | 0.0 | - |\n"), std::string::npos) << md;
  absl::StatusOr<std::string> csv = RenderCsv(doc, "results");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->substr(0, csv->find("\r\n")),
            "Objective,Series,Held %,Pending %,Firing %,Insufficient %,"
            "Unevaluated %,Firings,State at end,Last value,Nonconformities,"
            "Possible breach %,Backfilled");
  EXPECT_NE(csv->find(",NC-000007,0.0,200 of 300 events\r\n"),
            std::string::npos)
      << *csv;
  EXPECT_NE(csv->find("attribute=region,"), std::string::npos) << *csv;
  EXPECT_NE(csv->find(",-,0.0,-\r\n"), std::string::npos) << *csv;
  EXPECT_NE(RenderHtml(r).find("(backfilled: 200 of 300 events were loaded "
                               "by aimsctl backfill)"),
            std::string::npos);
  // Nothing backfilled: no mark anywhere.
  s->clear_values();
  const std::string none = RenderMarkdown(BuildReportDocument(r));
  EXPECT_EQ(none.find(" events |"), std::string::npos) << none;
}

TEST(ReportRenderTest, EndingsInTheRegister) {
  v1::ComplianceReport r = Sample();
  v1::Nonconformity* invalid = r.mutable_nonconformities(0);
  invalid->set_stage(v1::NONCONFORMITY_STAGE_INVALID);
  v1::Transition* t = invalid->add_history();
  t->set_from(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  t->set_to(v1::NONCONFORMITY_STAGE_INVALID);
  t->set_actor("ana");
  t->set_comment("load test traffic, not customers");
  *t->mutable_at() = ToProto(FromProto(r.from()) + absl::Minutes(50));
  v1::Nonconformity* accepted = r.add_nonconformities();
  *accepted = DriftShare();
  accepted->set_stage(v1::NONCONFORMITY_STAGE_RISK_ACCEPTED);
  *accepted->mutable_risk_accepted_until() =
      ToProto(absl::FromUnixSeconds(1'801'000'000));
  accepted->set_risk_accepted_by("bo");
  r.mutable_totals()->set_false_alarms(1);
  const std::string md = RenderMarkdown(BuildReportDocument(r));
  EXPECT_NE(md.find("| invalid (false alarm) | - | - | invalid, not a real "
                    "breach: load test traffic, not customers (ana, "
                    "2027-01-15 08:50:00Z) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| risk accepted | - | - | risk accepted until "
                    "2027-01-26 21:46:40Z by bo: - |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| False alarms (ended as invalid) | 1 |"),
            std::string::npos);
  const std::string html = RenderHtml(r);
  EXPECT_NE(html.find("<span class=\"st st-invalid\">invalid (false alarm)"),
            std::string::npos);
  EXPECT_NE(html.find("<span class=\"st st-risk_accepted\">risk accepted"),
            std::string::npos);
}

TEST(ReportRenderTest, FormatsAndContentTypes) {
  absl::StatusOr<v1::RenderedComplianceReport> html =
      RenderComplianceReport(Sample(), "", "");
  ASSERT_TRUE(html.ok());
  EXPECT_EQ(html->content_type(), "text/html; charset=utf-8");
  EXPECT_EQ(html->body(), RenderHtml(Sample()));
  EXPECT_EQ(html->objectives(), 1u);
  EXPECT_EQ(html->nonconformities(), 1u);
  absl::StatusOr<v1::RenderedComplianceReport> csv =
      RenderComplianceReport(Sample(), "csv", "");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->content_type(), "text/csv; charset=utf-8");
  EXPECT_EQ(csv->body(), *RenderCsv(BuildReportDocument(Sample()), "results"));
  EXPECT_EQ(RenderComplianceReport(Sample(), "pdf", "").status().message(),
            "format: 'pdf' is not html, markdown or csv");
}

}  // namespace
}  // namespace aims::collector

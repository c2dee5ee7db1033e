// The three renderings of a report say the same thing, and text from outside
// (titles, comments, series names) cannot break their syntax.
#include "ctl/report_render.h"

#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::ctl {
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
  const std::string html = RenderHtml(BuildReportDocument(Sample()));
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
            "recorded,Closed,Auto-resolved,Open\r\n"
            "2027-01-15 08:00:00Z,1,0,0,0,0,0,1\r\n");
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
            "--table: 'everything' is not one of plan, summary, objectives, "
            "results, trend, open, nonconformities");
}

}  // namespace
}  // namespace aims::ctl

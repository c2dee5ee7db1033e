// The nonconformity workflow over the collector's HTTP/JSON API against a
// real Collector on loopback: list filters, objectives, audit trail, plan
// versions, and the POST transition and update actions.
#include <fstream>

#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

using ::testing::HasSubstr;

// An open collector (no tokens file) whose plan wants accuracy >= 0.95, fed
// one window of accuracy 0.9 and evaluated once: NC-000001 is open.
class HttpNonconformityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.File("plan.yaml"))
        << "coverage: {enabled: false}\n"
           "nonconformity_due: {warning: 5d}\n"
           "objectives:\n"
           "  - {id: acc, metric: accuracy, comparator: '>=', threshold: "
           "0.95, window: 1h, decision: point}\n";
    CollectorOptions co;
    co.grpc_listen = "127.0.0.1:0";
    co.http_listen = "127.0.0.1:0";
    co.data_dir = dir_.File("data");
    co.sync_writes = false;
    co.plan_file = dir_.File("plan.yaml");
    co.evaluate_in_background = false;
    collector_ = std::make_unique<Collector>(co);
    ASSERT_TRUE(collector_->Start().ok());
    WindowAccumulator accumulator(std::make_shared<SummaryConfig>());
    for (int i = 0; i < 100; ++i) {
      Event e;
      e.prediction.kind = Outcome::Kind::kClass;
      e.prediction.class_label = "1";
      e.label.kind = Outcome::Kind::kClass;
      e.label.class_label = i < 90 ? "1" : "0";  // accuracy 0.9
      accumulator.Add(e);
    }
    v1::ModelRef model;
    model.set_name("credit");
    model.set_version("v2");
    model.set_environment("default");
    ASSERT_TRUE(testing::SendWindowReport(
        collector_->grpc_port(), model, "pod-a", 1,
        absl::Now() - absl::Seconds(50), accumulator.Build()));
    ASSERT_EQ(collector_->EvaluateNow(), 1);
    http_ =
        std::make_unique<httplib::Client>("127.0.0.1", collector_->http_port());
  }

  httplib::Result Post(const std::string& path, const std::string& body) {
    return http_->Post(path, body, "application/json");
  }

  testing::TempDir dir_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(HttpNonconformityTest, ListFiltersObjectivesAuditAndPlans) {
  auto all = http_->Get("/v1/nonconformities");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_THAT(all->body, HasSubstr(R"("id":"NC-000001")"));
  EXPECT_THAT(all->body, HasSubstr(R"("due_at":")"));
  for (const char* match :
       {"stage=open", "stage=open,acknowledged", "severity=warning",
        "objective=acc", "from=2000-01-01T00:00:00Z", "to=4000000000"}) {
    auto r = http_->Get(absl::StrCat("/v1/nonconformities?", match));
    EXPECT_THAT(r->body, HasSubstr("NC-000001")) << match;
  }
  for (const char* miss : {"stage=closed", "severity=critical", "owner=bo",
                           "objective=other", "from=4000000000", "to=1000"}) {
    auto r = http_->Get(absl::StrCat("/v1/nonconformities?", miss));
    EXPECT_EQ(r->status, 200) << miss;
    EXPECT_THAT(r->body, ::testing::Not(HasSubstr("NC-000001"))) << miss;
  }
  auto bad = http_->Get("/v1/nonconformities?stage=done");
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("stage: 'done' is not one of open"));

  auto objectives = http_->Get("/v1/objectives?objective=acc");
  EXPECT_EQ(objectives->status, 200);
  EXPECT_THAT(objectives->body,
              HasSubstr(R"("state":"OBJECTIVE_STATE_FIRING")"));
  EXPECT_THAT(objectives->body, HasSubstr(R"("nonconformity_id":"NC-000001")"));

  auto audit = http_->Get("/v1/audit?from_index=0&limit=2");
  EXPECT_EQ(audit->status, 200);
  EXPECT_THAT(audit->body, HasSubstr(R"("kind":"plan_version")"));
  auto bad_limit = http_->Get("/v1/audit?limit=0");
  EXPECT_EQ(bad_limit->status, 400);
  auto verify = http_->Get("/v1/audit/verify");
  EXPECT_THAT(verify->body, HasSubstr(R"("intact":true)"));

  auto plans = http_->Get("/v1/plans");
  EXPECT_EQ(plans->status, 200);
  EXPECT_THAT(plans->body, HasSubstr(R"("in_force":true)"));
  EXPECT_THAT(plans->body, HasSubstr("nonconformity_due: {warning: 5d}"));
}

TEST_F(HttpNonconformityTest, TransitionsAndUpdatesByPost) {
  // Out of order: 409 with what the order allows.
  auto early = Post("/v1/nonconformities/NC-000001/transition",
                    R"({"to": "NONCONFORMITY_STAGE_CAUSE_ANALYSED",
                        "comment": "x", "actor": "ana"})");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 409);
  EXPECT_EQ(early->body,
            "{\"error\":\"NC-000001 is open; the next step is 'ack' (to "
            "acknowledged), not cause_analysed (or end it as invalid or "
            "risk_accepted)\"}\n");
  // No actor on an open collector: anonymous.
  auto ack = Post("/v1/nonconformities/NC-000001/transition",
                  R"({"to": "NONCONFORMITY_STAGE_ACKNOWLEDGED"})");
  EXPECT_EQ(ack->status, 200) << ack->body;
  EXPECT_THAT(ack->body,
              HasSubstr(R"("stage":"NONCONFORMITY_STAGE_ACKNOWLEDGED")"));
  EXPECT_THAT(ack->body, HasSubstr(R"("actor":"anonymous")"));

  auto update = Post("/v1/nonconformities/NC-000001/update",
                     R"({"owner": "bo", "ticketUrl": "https://t.example/A-1",
                         "dueAt": "2030-01-02T03:04:05Z", "actor": "ana",
                         "comment": "bo takes it"})");
  EXPECT_EQ(update->status, 200) << update->body;
  EXPECT_THAT(update->body, HasSubstr(R"("owner":"bo")"));
  EXPECT_THAT(update->body,
              HasSubstr(R"("ticket_url":"https://t.example/A-1")"));
  EXPECT_THAT(update->body, HasSubstr(R"("due_at":"2030-01-02T03:04:05Z")"));
  EXPECT_THAT(update->body, HasSubstr(R"("change":"ticket_url")"));
  auto bad_url =
      Post("/v1/nonconformities/NC-000001/update",
           R"({"ticketUrl": "mailto:ops@example.org", "actor": "ana"})");
  EXPECT_EQ(bad_url->status, 400);
  EXPECT_THAT(bad_url->body, HasSubstr("is not an http(s) URL"));
  auto bad_body = Post("/v1/nonconformities/NC-000001/update", "{owner");
  EXPECT_EQ(bad_body->status, 400);
  EXPECT_THAT(bad_body->body,
              HasSubstr("body: not a UpdateNonconformityRequest"));
  auto owned = http_->Get("/v1/nonconformities?owner=bo");
  EXPECT_THAT(owned->body, HasSubstr("NC-000001"));

  auto invalid = Post("/v1/nonconformities/NC-000001/transition",
                      R"({"to": "NONCONFORMITY_STAGE_INVALID", "actor": "ana",
                          "comment": "a load test, not production"})");
  EXPECT_EQ(invalid->status, 200) << invalid->body;
  EXPECT_THAT(invalid->body,
              HasSubstr(R"("stage":"NONCONFORMITY_STAGE_INVALID")"));
  auto after = Post("/v1/nonconformities/NC-000001/update",
                    R"({"owner": "cy", "actor": "ana"})");
  EXPECT_EQ(after->status, 409);
  auto missing = Post("/v1/nonconformities/NC-000009/transition",
                      R"({"to": "NONCONFORMITY_STAGE_ACKNOWLEDGED"})");
  EXPECT_EQ(missing->status, 404);
  auto get = http_->Get("/v1/nonconformities/NC-000001/transition");
  EXPECT_EQ(get->status, 405);
  // Every action on the audit trail, still intact.
  auto audit = http_->Get("/v1/audit?limit=100");
  EXPECT_THAT(audit->body, HasSubstr(R"("kind":"nc_update")"));
  EXPECT_THAT(audit->body, HasSubstr("a load test, not production"));
  EXPECT_THAT(http_->Get("/v1/audit/verify")->body,
              HasSubstr(R"("intact":true)"));
}

// aims_collector_nonconformities_overdue counts, per model and severity,
// those past their due date without a corrective action.
TEST_F(HttpNonconformityTest, OverdueGaugeFollowsDueDateAndAction) {
  auto overdue = [&](const std::string& severity) {
    auto scrape = http_->Get("/metrics");
    return scrape
               ? testing::MetricValue(
                     scrape->body,
                     "aims_collector_nonconformities_overdue{model=\"credit\","
                     "severity=\"" +
                         severity + "\"}")
               : -1;
  };
  EXPECT_EQ(overdue("warning"), 0);  // due in 5 days
  EXPECT_EQ(overdue("critical"), 0);
  auto nc = http_->Get("/v1/nonconformities/NC-000001");
  const size_t at = nc->body.find("\"opened_at\":\"") + 13;
  const std::string opened = nc->body.substr(at, nc->body.find('"', at) - at);
  auto due =
      Post("/v1/nonconformities/NC-000001/update",
           absl::StrCat(R"({"actor": "ana", "dueAt": ")", opened, R"("})"));
  ASSERT_EQ(due->status, 200) << due->body;
  EXPECT_EQ(overdue("warning"), 1);
  EXPECT_EQ(overdue("critical"), 0);
  for (const char* to : {"ACKNOWLEDGED", "CAUSE_ANALYSED", "ACTION_RECORDED"}) {
    auto step =
        Post("/v1/nonconformities/NC-000001/transition",
             absl::StrCat(R"({"actor": "ana", "comment": "done", )",
                          R"("to": "NONCONFORMITY_STAGE_)", to, R"("})"));
    ASSERT_EQ(step->status, 200) << step->body;
  }
  EXPECT_EQ(overdue("warning"), 0);
}

}  // namespace
}  // namespace aims::collector

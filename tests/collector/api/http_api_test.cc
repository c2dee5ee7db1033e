// The collector's HTTP/JSON query API against a real Collector.
#include "collector/api/http_api.h"

#include "aims/v1/ingest.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

TEST(HttpApiTest, ModelsAgentsSummariesAndErrors) {
  testing::TempDir dir;
  CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir.File("data");
  options.sync_writes = false;
  // Windows of 1970: a maintenance pass (the first runs as the collector
  // starts, maybe after the first hello) would expire them as past the raw
  // retention, and they would be acknowledged without being counted.
  options.maintenance_interval = absl::ZeroDuration();
  Collector collector(options);
  ASSERT_TRUE(collector.Start().ok());
  {
    auto stub = v1::IngestService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", collector.grpc_port()),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    auto stream = stub->Report(&ctx);
    v1::IngestRequest hello;
    hello.mutable_hello()->mutable_agent()->set_agent_id("a1");
    hello.mutable_hello()->mutable_model()->set_name("credit");
    hello.mutable_hello()->mutable_model()->set_version("v1");
    hello.mutable_hello()->mutable_model()->set_environment("prod");
    hello.mutable_hello()->set_protocol_version(1);
    ASSERT_TRUE(stream->Write(hello));
    v1::IngestResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      v1::IngestRequest r;
      r.mutable_report()->set_agent_id("a1");
      r.mutable_report()->set_sequence(seq);
      *r.mutable_report()->mutable_window_start() =
          ToProto(absl::FromUnixSeconds(1000 + 10 * seq));
      *r.mutable_report()->mutable_window_end() =
          ToProto(absl::FromUnixSeconds(1010 + 10 * seq));
      r.mutable_report()
          ->mutable_summary()
          ->mutable_operational()
          ->set_event_count(seq);
      v1::FeatureSummary* age =
          r.mutable_report()->mutable_summary()->add_features();
      age->set_name("age");
      age->mutable_quality()->set_missing(seq == 3 ? 1 : 0);
      ASSERT_TRUE(stream->Write(r));
    }
    stream->WritesDone();
    while (stream->Read(&resp)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  httplib::Client http("127.0.0.1", collector.http_port());
  auto models = http.Get("/v1/models?name=credit");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  EXPECT_NE(models->body.find(R"("event_count":"6")"), std::string::npos)
      << models->body;
  auto none = http.Get("/v1/models?name=other");
  EXPECT_EQ(none->body.find("credit"), std::string::npos);
  auto agents = http.Get("/v1/agents");
  EXPECT_NE(agents->body.find(R"("agent_id":"a1")"), std::string::npos)
      << agents->body;
  auto summaries = http.Get(
      "/v1/"
      "summaries?name=credit&version=v1&environment=prod&from=1970-01-01T00:10:"
      "00Z&to=5000&step=1h");
  ASSERT_TRUE(summaries);
  EXPECT_EQ(summaries->status, 200) << summaries->body;
  EXPECT_NE(summaries->body.find(R"("report_count":"3")"), std::string::npos)
      << summaries->body;
  auto bad_step = http.Get("/v1/summaries?name=credit&version=v1&step=soon");
  EXPECT_EQ(bad_step->status, 400);
  EXPECT_EQ(bad_step->body,
            "{\"error\":\"step: 'soon' is not a duration such as 10s\"}\n");
  auto bad_model = http.Get("/v1/summaries?name=cr%20edit&version=v1");
  EXPECT_EQ(bad_model->status, 400);
  EXPECT_NE(bad_model->body.find("model.name"), std::string::npos)
      << bad_model->body;
  // Three windows of operational counts: throughput is 6 events over 30 s.
  auto metrics = http.Get(
      "/v1/"
      "metrics?name=credit&version=v1&environment=prod&from=1000&to=5000&step="
      "1h"
      "&metric=throughput,error_rate,missing_rate");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200) << metrics->body;
  EXPECT_NE(metrics->body.find(R"("metric":"throughput")"), std::string::npos)
      << metrics->body;
  // Data quality per feature: 1 of 6 events lacked "age", too few to judge.
  EXPECT_NE(metrics->body.find(R"("metric":"missing_rate","feature":"age")"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(
                R"("sample_size":"6","state":"EVIDENCE_STATE_INSUFFICIENT")"),
            std::string::npos)
      << metrics->body;
  EXPECT_EQ(metrics->body.find("accuracy"), std::string::npos) << metrics->body;
  auto bad_metrics =
      http.Get("/v1/metrics?name=credit&version=v1&from=yesterday");
  EXPECT_EQ(bad_metrics->status, 400);
  EXPECT_NE(bad_metrics->body.find("from: 'yesterday'"), std::string::npos)
      << bad_metrics->body;
  auto missing = http.Get("/v1/profile?name=credit&version=v1");
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("no profile for credit/v1"), std::string::npos);
}

// Every refusal says what was wrong in a JSON body: unknown metric names
// list the known ones, unknown paths and methods are named.
TEST(HttpApiTest, UnknownNamesPathsAndMethodsAreNamed) {
  testing::TempDir dir;
  CollectorOptions options;
  options.data_dir = dir.File("data");
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.sync_writes = false;
  options.maintenance_interval = absl::ZeroDuration();
  Collector collector(options);
  ASSERT_TRUE(collector.Start().ok());
  httplib::Client http("127.0.0.1", collector.http_port());

  auto metric = http.Get("/v1/metrics?name=credit&version=v1&metric=acuracy");
  ASSERT_TRUE(metric);
  EXPECT_EQ(metric->status, 400);
  EXPECT_NE(metric->body.find(
                R"({"error":"metrics: unknown metric 'acuracy'; known: )"),
            std::string::npos)
      << metric->body;
  EXPECT_NE(metric->body.find("accuracy, "), std::string::npos) << metric->body;

  auto path = http.Get("/v1/modles");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->status, 404);
  EXPECT_EQ(path->body, "{\"error\":\"no such path: /v1/modles\"}\n");

  auto method = http.Post("/v1/models", "{}", "application/json");
  ASSERT_TRUE(method);
  EXPECT_EQ(method->status, 405);
  EXPECT_EQ(method->body,
            "{\"error\":\"method POST not allowed on /v1/models; allowed: "
            "GET\"}\n");
  EXPECT_EQ(method->get_header_value("Allow"), "GET");

  auto target = http.Get("/v1/models?name=" + std::string(10000, 'x'));
  ASSERT_TRUE(target);
  EXPECT_EQ(target->status, 414);
  EXPECT_NE(target->body.find("limit 8192"), std::string::npos) << target->body;
  collector.Stop();
}

// GET /v1/report in each format: JSON by default, the rendered HTML and
// CSV with their content types, a CSV as a download; a wrong format or
// table is a 400 naming what it may be.
TEST(HttpApiTest, ReportAsJsonHtmlAndCsv) {
  testing::TempDir dir;
  CollectorOptions options;
  options.data_dir = dir.File("data");
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.sync_writes = false;
  options.collector_id = "audit-collector";
  options.maintenance_interval = absl::ZeroDuration();
  Collector collector(options);
  ASSERT_TRUE(collector.Start().ok());
  httplib::Client http("127.0.0.1", collector.http_port());

  auto json = http.Get("/v1/report");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200) << json->body;
  EXPECT_EQ(json->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(json->body.find("\"collector_id\":\"audit-collector\""),
            std::string::npos)
      << json->body;

  auto html = http.Get(
      "/v1/report?format=html&from=2026-01-01T00:00:00Z"
      "&to=2026-01-02T00:00:00Z&bucket=6h");
  ASSERT_TRUE(html);
  EXPECT_EQ(html->status, 200) << html->body;
  EXPECT_EQ(html->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(html->body.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html->body.find("<li><b>Period:</b> 2026-01-01 00:00:00Z to "
                            "2026-01-02 00:00:00Z</li>"),
            std::string::npos)
      << html->body;
  EXPECT_NE(html->body.find("<li><b>Produced by:</b> the aims collector "
                            "&quot;audit-collector&quot;</li>"),
            std::string::npos);
  // Four empty 6h buckets: the trend chart has no bars, the table 4 rows.
  EXPECT_NE(html->body.find("<svg class=\"chart\""), std::string::npos);
  EXPECT_EQ(html->body.find("<rect class=\"bar\""), std::string::npos);
  EXPECT_NE(html->body.find("<td class=\"w\">2026-01-01 18:00:00Z</td>"),
            std::string::npos);
  EXPECT_NE(html->body.find("<h2 id=\"glossary\">Glossary</h2>"),
            std::string::npos);

  auto csv = http.Get(
      "/v1/report?format=csv&table=trend&from=2026-01-01T00:00:00Z"
      "&to=2026-01-02T00:00:00Z&bucket=12h");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 200) << csv->body;
  EXPECT_EQ(csv->get_header_value("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv->get_header_value("Content-Disposition"),
            "attachment; filename=\"aims-report-trend.csv\"");
  EXPECT_EQ(csv->body,
            "Bucket start,Opened,Recurred,Acknowledged,Actions recorded,"
            "Closed,Auto-resolved,Open,Invalid,Risk accepted\r\n"
            "2026-01-01 00:00:00Z,0,0,0,0,0,0,0,0,0\r\n"
            "2026-01-01 12:00:00Z,0,0,0,0,0,0,0,0,0\r\n");

  auto pdf = http.Get("/v1/report?format=pdf");
  ASSERT_TRUE(pdf);
  EXPECT_EQ(pdf->status, 400);
  EXPECT_EQ(pdf->body,
            "{\"error\":\"format: 'pdf' is not html, markdown or csv\"}\n");
  auto table = http.Get("/v1/report?format=csv&table=all");
  ASSERT_TRUE(table);
  EXPECT_EQ(table->status, 400);
  EXPECT_NE(table->body.find("table: 'all' is not one of plan, summary"),
            std::string::npos)
      << table->body;
}

}  // namespace
}  // namespace aims::collector

// A real Agent and a real Collector in one process over loopback: HTTP
// intake -> windows -> spool -> gRPC -> RocksDB.
#include "agent/agent.h"

#include "collector/collector.h"
#include "common/time_util.h"
#include "grpcpp/grpcpp.h"
#include "aims/v1/query.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

class AgentTest : public ::testing::Test {
 protected:
  void StartCollector() {
    collector::CollectorOptions co;
    co.grpc_listen = collector_address_.empty() ? "127.0.0.1:0" : collector_address_;
    co.http_listen = "127.0.0.1:0";
    co.data_dir = dir_.File("collector");
    co.sync_writes = false;
    collector_ = std::make_unique<collector::Collector>(co);
    ASSERT_TRUE(collector_->Start().ok());
    collector_address_ = absl::StrCat("127.0.0.1:", collector_->grpc_port());
  }

  AgentOptions Options() {
    AgentOptions o;
    o.http_listen = "127.0.0.1:0";
    o.collector = collector_address_;
    o.data_dir = dir_.File("agent");
    o.model.set_name("credit");
    o.model.set_version("v1");
    o.model.set_environment("test");
    o.window = absl::Seconds(1);
    o.grace_period = absl::Seconds(5);
    return o;
  }

  uint64_t StoredEvents() {
    auto stub = v1::QueryService::NewStub(
        grpc::CreateChannel(collector_address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::ListModelsResponse resp;
    if (!stub->ListModels(&ctx, v1::ListModelsRequest(), &resp).ok()) return 0;
    return resp.models_size() ? resp.models(0).event_count() : 0;
  }

  testing::TempDir dir_;
  std::string collector_address_;
  std::unique_ptr<collector::Collector> collector_;
};

TEST_F(AgentTest, EventsPostedAreStoredOnceAndBadOnesExplained) {
  StartCollector();
  Agent agent(Options());
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  int sent = 0;
  for (int batch = 0; batch < 5; ++batch) {
    std::string body = "[";
    for (int i = 0; i < 100; ++i) {
      absl::StrAppend(&body, i ? "," : "", R"({"features":{"x":)", i,
                      R"(},"prediction":1,"score":0.7,"label":1,"latency_ms":3})");
    }
    body += R"(,{"features":{"x":"wrong"},"colour":"red"}])";
    auto res = http.Post("/v1/events", body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find(R"("accepted":100,"rejected":1)"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(R"({"index":100,"field":"colour","reason":"unknown field)"),
              std::string::npos)
        << res->body;
    sent += 100;
  }
  auto bad = http.Post("/v1/events", "[{", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("not valid JSON"), std::string::npos);
  // Stop closes the open window and drains the spool before returning.
  EXPECT_TRUE(agent.Stop());
  EXPECT_EQ(StoredEvents(), static_cast<uint64_t>(sent));
}

TEST_F(AgentTest, LargeReportsTravelInPartsAndArriveWhole) {
  StartCollector();
  AgentOptions options = Options();
  options.max_part_bytes = 4096;
  Agent agent(options);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  // 300 numeric features with spread values: sketches make the report far
  // larger than one 4 KiB part.
  std::string body = "[";
  for (int e = 0; e < 20; ++e) {
    absl::StrAppend(&body, e ? "," : "", R"({"prediction":1,"features":{)");
    for (int f = 0; f < 300; ++f) {
      absl::StrAppend(&body, f ? "," : "", "\"f", f, "\":", (e + 1) * (f + 1) * 1.37);
    }
    body += "}}";
  }
  body += "]";
  auto res = http.Post("/v1/events", body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(agent.Stop());
  auto stub = v1::QueryService::NewStub(
      grpc::CreateChannel(collector_address_, grpc::InsecureChannelCredentials()));
  v1::GetSummariesRequest req;
  req.mutable_model()->set_name("credit");
  req.mutable_model()->set_version("v1");
  req.mutable_model()->set_environment("test");
  *req.mutable_from() = ToProto(absl::Now() - absl::Hours(1));
  *req.mutable_to() = ToProto(absl::Now() + absl::Hours(1));
  grpc::ClientContext ctx;
  v1::GetSummariesResponse resp;
  ASSERT_TRUE(stub->GetSummaries(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.buckets_size(), 1);
  const v1::WindowSummary& w = resp.buckets(0).summary();
  EXPECT_EQ(w.operational().event_count(), 20u);
  EXPECT_EQ(w.features_size(), 301);  // 300 + __prediction__
  EXPECT_GT(resp.buckets(0).summary().ByteSizeLong(), 4 * 4096u);
  // It really travelled in parts.
  httplib::Client metrics("127.0.0.1", collector_->http_port());
  auto page = metrics.Get("/metrics");
  ASSERT_TRUE(page);
  const size_t at = page->body.find("\naims_collector_report_parts_total ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(page->body.substr(at + 36)), 5.0) << page->body.substr(at, 60);
}

TEST_F(AgentTest, CollectorDownAtStartThenUpDeliversEverything) {
  // Reserve a port for the collector by starting and stopping one.
  StartCollector();
  collector_->Stop();
  collector_.reset();
  AgentOptions options = Options();
  options.grace_period = absl::Seconds(15);
  Agent agent(options);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  auto res = http.Post("/v1/events", R"([{"prediction":1},{"prediction":0}])",
                       "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  // Let the window close into the spool while the collector is away.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto m = http.Get("/metrics");
        return m && m->body.find("aims_agent_spool_reports 1") != std::string::npos;
      },
      absl::Seconds(10)));
  StartCollector();  // same port as before
  ASSERT_TRUE(testing::WaitFor([&] { return StoredEvents() == 2; }, absl::Seconds(40)));
  EXPECT_TRUE(agent.Stop());
  EXPECT_EQ(StoredEvents(), 2u);
}

}  // namespace
}  // namespace aims::agent

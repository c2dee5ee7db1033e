// A real Agent and a real Collector in one process over loopback: HTTP
// intake -> windows -> spool -> gRPC -> RocksDB.
#include "agent/agent.h"

#include <fstream>

#include "aims/v1/event.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/profile_builder.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

class AgentTest : public ::testing::Test {
 protected:
  void StartCollector() {
    collector::CollectorOptions co;
    co.grpc_listen =
        collector_address_.empty() ? "127.0.0.1:0" : collector_address_;
    co.http_listen = "127.0.0.1:0";
    co.data_dir = dir_.File("collector");
    co.sync_writes = false;
    co.auth_tokens_file = tokens_file_;
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

  uint64_t StoredEvents(const std::string& token = "") {
    auto stub = v1::QueryService::NewStub(
        WithBearerToken(collector_address_, grpc::InsecureChannelCredentials(),
                        grpc::ChannelArguments(), token));
    grpc::ClientContext ctx;
    v1::ListModelsResponse resp;
    if (!stub->ListModels(&ctx, v1::ListModelsRequest(), &resp).ok()) return 0;
    return resp.models_size() ? resp.models(0).event_count() : 0;
  }

  testing::TempDir dir_;
  std::string tokens_file_;  // the collector's --auth_tokens_file
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
      absl::StrAppend(
          &body, i ? "," : "", R"({"features":{"x":)", i,
          R"(},"prediction":1,"score":0.7,"label":1,"latency_ms":3})");
    }
    body += R"(,{"features":{"x":1},"score":"high"}])";
    auto res = http.Post("/v1/events", body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find(R"("accepted":100,"rejected":1)"),
              std::string::npos)
        << res->body;
    EXPECT_NE(
        res->body.find(
            R"({"index":100,"field":"score","reason":"expected number, got string"})"),
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

// The intake asks callers for its token; the agent presents its own agent
// token to a collector that requires tokens, and the events arrive.
TEST_F(AgentTest, TokensGuardTheIntakeAndReachTheCollector) {
  const std::string agent_token = NewToken();
  const std::string viewer_token = NewToken();
  const std::string intake_token = NewToken();
  tokens_file_ = dir_.File("tokens.yaml");
  std::ofstream(tokens_file_)
      << "tokens:\n  - {name: credit-pods, role: agent, models: [credit], "
         "sha256: "
      << TokenSha256(agent_token) << "}\n  - {name: val, role: viewer, sha256: "
      << TokenSha256(viewer_token) << "}\n";
  StartCollector();
  AgentOptions options = Options();
  options.grpc_listen = "127.0.0.1:0";
  options.collector_token = agent_token;
  options.intake_token_sha256 = TokenSha256(intake_token);
  Agent agent(options);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  const std::string body = R"([{"features":{"x":1},"prediction":1}])";
  auto none = http.Post("/v1/events", body, "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_NE(none->body.find("a bearer token is required"), std::string::npos)
      << none->body;
  httplib::Headers wrong = {{"Authorization", "Bearer " + agent_token}};
  EXPECT_EQ(http.Post("/v1/events", wrong, body, "application/json")->status,
            401);
  httplib::Headers right = {{"Authorization", "Bearer " + intake_token}};
  for (int i = 0; i < 3; ++i) {
    auto ok = http.Post("/v1/events", right, body, "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
  }
  EXPECT_EQ(http.Post("/v1/labels", body, "application/json")->status, 401);
  // gRPC intake: the same token as metadata.
  v1::SubmitEventsRequest request;
  request.add_events()->mutable_prediction()->set_class_label("1");
  for (const std::string& token : {std::string(), intake_token}) {
    auto stub = v1::AgentIntakeService::NewStub(WithBearerToken(
        absl::StrCat("127.0.0.1:", agent.grpc_port()),
        grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), token));
    grpc::ClientContext ctx;
    v1::SubmitResponse response;
    grpc::Status s = stub->SubmitEvents(&ctx, request, &response);
    if (token.empty()) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.accepted(), 1u);
    }
  }
  EXPECT_EQ(
      testing::MetricValue(
          http.Get("/metrics")->body,
          "aims_agent_requests_refused_total{reason=\"unauthenticated\"}"),
      4);
  EXPECT_TRUE(agent.Stop());
  EXPECT_EQ(StoredEvents(viewer_token), 4u);
  EXPECT_EQ(StoredEvents(), 0u);  // no token: the collector answers nothing
}

// Every delayed label is forwarded, those whose prediction is in the open
// window beside its join record, and the collector's central join credits
// them to the window (AgentLabelsTest covers what the reports carry). A
// fake clock keeps the window open between the posts.
TEST_F(AgentTest, DelayedLabelsJoinTheirPredictions) {
  StartCollector();
  FakeClock clock(absl::Now());
  AgentOptions options = Options();
  options.window = absl::Minutes(10);
  Agent agent(options, &clock);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  std::string events = "[";
  for (int i = 0; i < 10; ++i) {
    absl::StrAppend(&events, i ? "," : "", R"({"prediction_id":"p)", i,
                    R"(","prediction":)", i % 2, R"(,"score":)",
                    i % 2 ? 0.9 : 0.1, R"(,"attributes":{"gender":")",
                    i < 5 ? "f" : "m", R"("}})");
  }
  events += "]";
  auto res = http.Post("/v1/events", events, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  // Labels for p0..p5 (all true class 1), one unknown id, one malformed.
  std::string labels;
  for (int i = 0; i < 6; ++i) {
    absl::StrAppend(&labels, R"({"prediction_id":"p)", i, R"(","label":1})",
                    "\n");
  }
  labels += R"({"prediction_id":"nope","label":1})"
            "\n"
            R"({"label":1})"
            "\n";
  res = http.Post("/v1/labels", labels, "application/x-ndjson");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find(R"("accepted":7,"rejected":1)"), std::string::npos)
      << res->body;
  EXPECT_NE(res->body.find(R"("field":"prediction_id","reason":"required")"),
            std::string::npos)
      << res->body;
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  // The agent joins none: all seven go to the collector's central join,
  // and p0..p5 stay pending for their join records.
  EXPECT_EQ(
      testing::MetricValue(metrics->body,
                           R"(aims_agent_labels_total{outcome="forwarded"})"),
      7);
  EXPECT_EQ(testing::MetricValue(
                metrics->body, R"(aims_agent_labels_total{outcome="matched"})"),
            -1);  // no such series
  EXPECT_EQ(
      testing::MetricValue(metrics->body, "aims_agent_pending_predictions"),
      10);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(agent.Stop());

  auto stub = v1::QueryService::NewStub(grpc::CreateChannel(
      collector_address_, grpc::InsecureChannelCredentials()));
  v1::GetSummariesRequest req;
  req.mutable_model()->set_name("credit");
  req.mutable_model()->set_version("v1");
  req.mutable_model()->set_environment("test");
  *req.mutable_from() = ToProto(absl::Now() - absl::Hours(1));
  *req.mutable_to() = ToProto(absl::Now() + absl::Hours(1));
  // The collector credits the labels with its next flush of the window.
  v1::GetSummariesResponse resp;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        resp.Clear();
        return stub->GetSummaries(&ctx, req, &resp).ok() &&
               resp.buckets_size() == 1 &&
               resp.buckets(0).summary().operational().labels_matched() >= 6;
      },
      absl::Seconds(30)));
  ASSERT_EQ(resp.buckets_size(), 1);
  const v1::WindowSummary& w = resp.buckets(0).summary();
  EXPECT_EQ(w.operational().event_count(), 10u);
  EXPECT_EQ(w.operational().labels_matched(), 6u);
  EXPECT_EQ(w.operational().labels_unmatched(), 0u);  // the collector's call
  EXPECT_EQ(w.operational().labels_awaited(), 10u);
  EXPECT_EQ(w.operational().label_delay_seconds().count(), 6u);
  EXPECT_EQ(w.performance().labelled_count(), 6u);
  // p1, p3, p5 predicted 1 (TP); p0, p2, p4 predicted 0 (FN); f = p0..p4.
  ASSERT_EQ(w.attributes_size(), 1);
  const v1::GroupCounts& f = w.attributes(0).groups(0);
  EXPECT_EQ(f.group(), "f");
  EXPECT_EQ(f.n(), 5u);
  EXPECT_EQ(f.labelled(), 5u);
  EXPECT_EQ(f.true_positive(), 2u);
  EXPECT_EQ(f.false_negative(), 3u);
  const v1::GroupCounts& m = w.attributes(0).groups(1);
  EXPECT_EQ(m.labelled(), 1u);
  EXPECT_EQ(m.true_positive(), 1u);
}

v1::WindowSummary OnlySummary(const std::string& collector) {
  auto stub = v1::QueryService::NewStub(
      grpc::CreateChannel(collector, grpc::InsecureChannelCredentials()));
  v1::GetSummariesRequest req;
  req.mutable_model()->set_name("credit");
  req.mutable_model()->set_version("v1");
  req.mutable_model()->set_environment("test");
  *req.mutable_from() = ToProto(absl::Now() - absl::Hours(1));
  *req.mutable_to() = ToProto(absl::Now() + absl::Hours(1));
  grpc::ClientContext ctx;
  v1::GetSummariesResponse resp;
  if (!stub->GetSummaries(&ctx, req, &resp).ok() || resp.buckets_size() != 1)
    return {};
  return resp.buckets(0).summary();
}

std::string Numbers(int n, int offset) {
  std::string body = "[";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&body, i ? "," : "",
                    R"({"prediction":1,"score":0.5,"features":{"x":)",
                    i + offset, R"(,"c":")", i % 2 ? "a" : "b", R"("}})");
  }
  return body + "]";
}

TEST_F(AgentTest, ProfileFromTheCollectorShapesTheHistograms) {
  StartCollector();
  ProfileBuilder builder((ProfileBuildOptions()));
  for (int i = 0; i < 100; ++i) {
    Event e;
    e.features.emplace_back(
        "x", FeatureValue{FeatureValue::Kind::kNumber, double(i), ""});
    builder.Add(e);
  }
  v1::ModelRef model;
  model.set_name("credit");
  model.set_version("v1");
  model.set_environment("any");
  auto profile = builder.Build(model, v1::PROFILE_SOURCE_TRAINING_DATA, "test");
  ASSERT_TRUE(profile.ok());
  auto stub = v1::QueryService::NewStub(grpc::CreateChannel(
      collector_address_, grpc::InsecureChannelCredentials()));
  v1::PutProfileRequest put;
  *put.mutable_profile() = *profile;
  v1::PutProfileResponse stored;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->PutProfile(&ctx, put, &stored).ok());
  EXPECT_TRUE(stored.created());

  AgentOptions options = Options();
  options.reference_events = 0;
  options.require_profile = true;
  Agent agent(options);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = http.Get("/readyz");
        return r && r->status == 200;
      },
      absl::Seconds(10)));
  EXPECT_NE(http.Get("/readyz")->body.find("profile " + stored.profile_id()),
            std::string::npos);
  auto res = http.Post("/v1/events", Numbers(50, 80), "application/json");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_TRUE(agent.Stop());
  const v1::WindowSummary w = OnlySummary(collector_address_);
  EXPECT_EQ(w.profile_id(), stored.profile_id());
  const v1::FeatureSummary* x = nullptr;
  for (const auto& f : w.features())
    if (f.name() == "x") x = &f;
  ASSERT_NE(x, nullptr);
  ASSERT_EQ(x->histogram().counts_size(), 12);
  // Values 80..129 against reference 0..99: 30 fall above the maximum.
  EXPECT_EQ(x->histogram().counts(11), 30u);
  EXPECT_EQ(x->quality().out_of_range(), 30u);
}

TEST_F(AgentTest, FirstEventsBecomeTheSharedReference) {
  StartCollector();
  AgentOptions first = Options();
  first.reference_events = 40;
  Agent a(first);
  ASSERT_TRUE(a.Start().ok());
  httplib::Client http("127.0.0.1", a.http_port());
  ASSERT_TRUE(http.Post("/v1/events", Numbers(30, 0), "application/json"));
  EXPECT_NE(
      http.Get("/readyz")->body.find("building first-events reference (30/40)"),
      std::string::npos)
      << http.Get("/readyz")->body;
  ASSERT_TRUE(http.Post("/v1/events", Numbers(30, 30), "application/json"));
  auto stub = v1::QueryService::NewStub(grpc::CreateChannel(
      collector_address_, grpc::InsecureChannelCredentials()));
  v1::ReferenceProfile stored;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::GetProfileRequest req;
        req.mutable_model()->set_name("credit");
        req.mutable_model()->set_version("v1");
        return stub->GetProfile(&ctx, req, &stored).ok();
      },
      absl::Seconds(10)));
  EXPECT_EQ(stored.source(), v1::PROFILE_SOURCE_FIRST_EVENTS);
  EXPECT_EQ(stored.row_count(), 40u);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return testing::MetricValue(http.Get("/metrics")->body,
                                    "aims_agent_profile_loaded") == 1;
      },
      absl::Seconds(10)));
  // A second replica adopts it from its Welcome, without building its own.
  AgentOptions second = Options();
  second.data_dir = dir_.File("agent-2");
  second.reference_events = 40;
  Agent b(second);
  ASSERT_TRUE(b.Start().ok());
  httplib::Client http_b("127.0.0.1", b.http_port());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = http_b.Get("/readyz");
        return r && r->body.find("profile " + stored.profile_id()) !=
                        std::string::npos;
      },
      absl::Seconds(10)));
  EXPECT_TRUE(b.Stop());
  EXPECT_TRUE(a.Stop());
  // A restarted agent keeps the profile without a collector.
  collector_->Stop();
  AgentOptions again = Options();
  again.collector = "127.0.0.1:1";
  again.grace_period = absl::ZeroDuration();
  Agent c(again);
  ASSERT_TRUE(c.Start().ok());
  httplib::Client http_c("127.0.0.1", c.http_port());
  EXPECT_NE(http_c.Get("/readyz")->body.find("profile " + stored.profile_id()),
            std::string::npos);
  c.Stop();
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
      absl::StrAppend(&body, f ? "," : "", "\"f", f,
                      "\":", (e + 1) * (f + 1) * 1.37);
    }
    body += "}}";
  }
  body += "]";
  auto res = http.Post("/v1/events", body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(agent.Stop());
  auto stub = v1::QueryService::NewStub(grpc::CreateChannel(
      collector_address_, grpc::InsecureChannelCredentials()));
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
  const std::string metric = "\naims_collector_report_parts_total ";
  const size_t at = page->body.find(metric);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(page->body.substr(at + metric.size())), 5.0)
      << page->body.substr(at, 60);
}

// Join records and forwarded labels are spread over the parts of a report
// too large for one message; the collector takes every part.
TEST_F(AgentTest, JoinRecordsAndForwardedLabelsTravelInParts) {
  StartCollector();
  FakeClock clock(absl::Now());
  AgentOptions options = Options();
  options.window = absl::Minutes(10);
  options.max_part_bytes = 4096;
  Agent agent(options, &clock);
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client http("127.0.0.1", agent.http_port());
  std::string events = "[", labels = "[";
  for (int i = 0; i < 500; ++i) {
    absl::StrAppend(&events, i ? "," : "", R"({"prediction_id":"pending-)", i,
                    R"(","prediction":1})");
    absl::StrAppend(&labels, i ? "," : "", R"({"prediction_id":"elsewhere-)", i,
                    R"(","label":0})");
  }
  ASSERT_EQ(http.Post("/v1/events", events + "]", "application/json")->status,
            200);
  ASSERT_EQ(http.Post("/v1/labels", labels + "]", "application/json")->status,
            200);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(agent.Stop());
  EXPECT_EQ(StoredEvents(), 500u);
  // 500 join records and 500 labels, some 40 bytes each: at least 10 parts.
  httplib::Client metrics("127.0.0.1", collector_->http_port());
  auto page = metrics.Get("/metrics");
  ASSERT_TRUE(page);
  const std::string metric = "\naims_collector_report_parts_total ";
  const size_t at = page->body.find(metric);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(page->body.substr(at + metric.size())), 10.0)
      << page->body.substr(at, 60);
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
        return m &&
               testing::MetricValue(m->body, "aims_agent_spool_reports") == 1;
      },
      absl::Seconds(10)));
  StartCollector();  // same port as before
  ASSERT_TRUE(
      testing::WaitFor([&] { return StoredEvents() == 2; }, absl::Seconds(40)));
  EXPECT_TRUE(agent.Stop());
  EXPECT_EQ(StoredEvents(), 2u);
}

}  // namespace
}  // namespace aims::agent

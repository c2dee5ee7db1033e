// The collector's input limits against a real Collector over loopback gRPC:
// a report beyond a --max_report_* limit is rejected with the field, the
// limit and the flag, counted by limit, recorded as a gap, and the stream
// (and every other stream) goes on; non-finite sums are refused; a report
// over --max_message_bytes is rejected the same way (a hello or gap ends its
// stream), one over gRPC's cap ends only its own stream; a plan beyond
// --max_objectives_per_plan is not loaded and the plan in force stays.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

using Stream = grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>;

v1::IngestRequest Hello(const std::string& agent) {
  v1::IngestRequest req;
  v1::Hello* h = req.mutable_hello();
  h->mutable_agent()->set_agent_id(agent);
  h->mutable_model()->set_name("credit");
  h->mutable_model()->set_version("v1");
  h->mutable_model()->set_environment("test");
  h->set_protocol_version(1);
  return req;
}

v1::IngestRequest Report(const std::string& agent, uint64_t seq,
                         uint64_t events) {
  v1::IngestRequest req;
  v1::WindowReport* r = req.mutable_report();
  r->set_agent_id(agent);
  r->set_sequence(seq);
  *r->mutable_window_start() = ToProto(absl::FromUnixSeconds(1000 + 10 * seq));
  *r->mutable_window_end() = ToProto(absl::FromUnixSeconds(1010 + 10 * seq));
  r->mutable_summary()->mutable_operational()->set_event_count(events);
  return req;
}

// Reads until an Ack for `seq`, collecting rejections on the way.
bool ReadUntilAck(Stream* stream, uint64_t seq,
                  std::vector<v1::Rejection>* rejections) {
  v1::IngestResponse resp;
  while (stream->Read(&resp)) {
    if (resp.has_rejection()) rejections->push_back(resp.rejection());
    if (resp.has_ack() && resp.ack().durable_sequence() >= seq) return true;
  }
  return false;
}

grpc::Status Close(Stream* stream) {
  stream->WritesDone();
  v1::IngestResponse ignored;
  while (stream->Read(&ignored)) {
  }
  return stream->Finish();
}

class ReportLimitsTest : public ::testing::Test {
 protected:
  void Start(const std::string& plan = "") {
    CollectorOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.data_dir = dir_.File("data");
    options.sync_writes = false;
    // Windows of 1970: a maintenance pass (the first runs as the collector
    // starts, maybe after the hello) would expire them as past the raw
    // retention, acknowledged but not counted.
    options.maintenance_interval = absl::ZeroDuration();
    options.max_message_bytes = 64 << 10;
    options.report_limits.max_features = 2;
    options.report_limits.max_groups_per_attribute = 2;
    options.report_limits.max_name_bytes = 8;
    options.max_objectives_per_plan = 2;
    options.evaluate_in_background = false;
    if (!plan.empty()) {
      options.plan_file = dir_.File("plan.yaml");
      std::ofstream(options.plan_file) << plan;
    }
    collector_ = std::make_unique<Collector>(options);
    start_status_ = collector_->Start();
    if (!start_status_.ok()) return;
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", collector_->grpc_port()),
                            grpc::InsecureChannelCredentials());
    ingest_ = v1::IngestService::NewStub(channel_);
  }

  double Metric(const std::string& series) {
    httplib::Client http("127.0.0.1", collector_->http_port());
    auto res = http.Get("/metrics");
    return res ? testing::MetricValue(res->body, series) : -1;
  }

  v1::AgentInfo Agent(const std::string& id) {
    auto query = v1::QueryService::NewStub(channel_);
    grpc::ClientContext ctx;
    v1::ListAgentsResponse resp;
    EXPECT_TRUE(query->ListAgents(&ctx, v1::ListAgentsRequest(), &resp).ok());
    for (const auto& a : resp.agents()) {
      if (a.agent().agent_id() == id) return a;
    }
    return {};
  }

  static std::string Plan(int objectives) {
    std::string plan = "apiVersion: aims/v1\nobjectives:\n";
    for (int i = 0; i < objectives; ++i) {
      absl::StrAppend(&plan, "  - id: acc-", i,
                      "\n    model: {name: credit}\n    metric: accuracy\n"
                      "    comparator: \">=\"\n    threshold: 0.9\n");
    }
    return plan;
  }

  testing::TempDir dir_;
  std::unique_ptr<Collector> collector_;
  absl::Status start_status_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
};

TEST_F(ReportLimitsTest, ReportBeyondALimitIsRejectedNamedCountedAndAGap) {
  Start();
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestRequest wide = Report("a1", 1, 7);
  for (const char* f : {"a", "b", "c"}) {
    wide.mutable_report()->mutable_summary()->add_features()->set_name(f);
  }
  v1::IngestRequest groups = Report("a1", 2, 7);
  v1::AttributeSummary* a =
      groups.mutable_report()->mutable_summary()->add_attributes();
  a->set_attribute("zip");
  for (const char* g : {"1", "2", "3"}) a->add_groups()->set_group(g);
  v1::IngestRequest named = Report("a1", 3, 7);
  named.mutable_report()->mutable_summary()->add_features()->set_name(
      "much_too_long");
  v1::IngestRequest nan = Report("a1", 4, 7);
  nan.mutable_report()
      ->mutable_summary()
      ->mutable_performance()
      ->mutable_regression()
      ->set_sum_squared_error(std::numeric_limits<double>::quiet_NaN());
  for (const v1::IngestRequest* r : {&wide, &groups, &named, &nan}) {
    ASSERT_TRUE(stream->Write(*r));
  }
  ASSERT_TRUE(stream->Write(Report("a1", 5, 10)));
  std::vector<v1::Rejection> rejections;
  ASSERT_TRUE(ReadUntilAck(stream.get(), 5, &rejections));
  ASSERT_EQ(rejections.size(), 4u);
  EXPECT_EQ(rejections[0].field(), "report.summary.features");
  EXPECT_EQ(rejections[0].reason(),
            "3 features, limit 2 (--max_report_features)");
  EXPECT_EQ(rejections[1].field(), "report.summary.attributes[0].groups");
  EXPECT_EQ(rejections[1].reason(),
            "3 groups, limit 2 (--max_report_groups_per_attribute)");
  EXPECT_EQ(rejections[2].field(), "report.summary.features[0].name");
  EXPECT_EQ(rejections[2].reason(),
            "13 bytes, limit 8 (--max_report_name_bytes)");
  EXPECT_EQ(rejections[3].field(), "report.summary.performance.regression");
  EXPECT_EQ(rejections[3].reason(), "must be finite, got nan");
  EXPECT_TRUE(Close(stream.get()).ok());
  // The good report is stored once; each rejected one is a gap on record.
  const v1::AgentInfo info = Agent("a1");
  EXPECT_EQ(info.report_count(), 1u);
  EXPECT_EQ(info.event_count(), 10u);
  EXPECT_EQ(info.gap_count(), 4u);
  EXPECT_EQ(info.durable_sequence(), 5u);
  EXPECT_EQ(
      Metric(
          R"(aims_collector_limit_rejections_total{limit="report_features"})"),
      1);
  EXPECT_EQ(
      Metric(
          R"(aims_collector_limit_rejections_total{limit="report_groups_per_attribute"})"),
      1);
  EXPECT_EQ(
      Metric(
          R"(aims_collector_limit_rejections_total{limit="report_name_bytes"})"),
      1);
  EXPECT_EQ(
      Metric(
          R"(aims_collector_report_rejections_total{field="report.summary.performance.regression"})"),
      1);
  EXPECT_EQ(Metric(R"(aims_collector_reports_total{outcome="rejected"})"), 4);
}

TEST_F(ReportLimitsTest, OversizedReportIsRejectedNamedAndCounted) {
  Start();
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  // Over --max_message_bytes (64 KiB) but under gRPC's cap (128 KiB): aims
  // refuses it by size, before any other check, and the stream goes on.
  v1::IngestRequest big = Report("a1", 1, 5);
  big.mutable_report()->mutable_summary()->add_features()->set_name(
      std::string(100 << 10, 'x'));
  const size_t big_bytes = big.report().ByteSizeLong();
  ASSERT_TRUE(stream->Write(big));
  ASSERT_TRUE(stream->Write(Report("a1", 2, 5)));
  std::vector<v1::Rejection> rejections;
  ASSERT_TRUE(ReadUntilAck(stream.get(), 2, &rejections));
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].sequence(), 1u);
  EXPECT_EQ(rejections[0].field(), "report");
  EXPECT_EQ(
      rejections[0].reason(),
      absl::StrCat(big_bytes, " bytes, limit 65536 (--max_message_bytes)"));
  EXPECT_TRUE(Close(stream.get()).ok());
  const v1::AgentInfo info = Agent("a1");
  EXPECT_EQ(info.report_count(), 1u);
  EXPECT_EQ(info.gap_count(), 1u);
  EXPECT_EQ(info.durable_sequence(), 2u);
  EXPECT_EQ(
      Metric(R"(aims_collector_limit_rejections_total{limit="message_bytes"})"),
      1);
}

TEST_F(ReportLimitsTest, OversizedHelloEndsItsStreamNamingTheFlag) {
  Start();
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  v1::IngestRequest hello = Hello("a1");
  hello.mutable_hello()->mutable_agent()->set_host(std::string(80 << 10, 'h'));
  stream->Write(hello);
  grpc::Status s = Close(stream.get());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(),
            absl::StrCat("message: ", hello.ByteSizeLong(),
                         " bytes, limit 65536 (--max_message_bytes)"));
  EXPECT_EQ(
      Metric(R"(aims_collector_limit_rejections_total{limit="message_bytes"})"),
      1);
}

TEST_F(ReportLimitsTest, MessageBeyondGrpcsCapEndsOnlyItsOwnStream) {
  Start();
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  grpc::ClientContext good_ctx;
  auto good = ingest_->Report(&good_ctx);
  ASSERT_TRUE(good->Write(Hello("good")));
  ASSERT_TRUE(good->Write(Report("good", 1, 5)));
  std::vector<v1::Rejection> rejections;
  ASSERT_TRUE(ReadUntilAck(good.get(), 1, &rejections));

  grpc::ClientContext bad_ctx;
  auto bad = ingest_->Report(&bad_ctx);
  ASSERT_TRUE(bad->Write(Hello("bad")));
  // Over twice --max_message_bytes: gRPC refuses it before aims reads it.
  v1::IngestRequest huge = Report("bad", 1, 5);
  huge.mutable_report()->mutable_summary()->add_features()->set_name(
      std::string(200 << 10, 'x'));
  bad->Write(huge);
  grpc::Status s = Close(bad.get());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();

  // The other stream goes on as if nothing happened.
  ASSERT_TRUE(good->Write(Report("good", 2, 5)));
  ASSERT_TRUE(ReadUntilAck(good.get(), 2, &rejections));
  EXPECT_TRUE(rejections.empty());
  EXPECT_TRUE(Close(good.get()).ok());
  EXPECT_EQ(Agent("good").event_count(), 10u);
  EXPECT_EQ(Agent("bad").report_count(), 0u);
}

TEST_F(ReportLimitsTest, PlanBeyondTheObjectiveLimitIsNotLoaded) {
  // At start: the collector refuses to start, naming file, line and flag.
  Start(Plan(3));
  EXPECT_EQ(start_status_.message(),
            absl::StrCat(dir_.File("plan.yaml"),
                         ":3:3: objectives: 3 objectives, limit 2 "
                         "(--max_objectives_per_plan)"));
  collector_.reset();
  // On reload: refused and counted, the plan in force stays.
  Start(Plan(2));
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  const double objectives = Metric("aims_collector_plan_objectives");
  EXPECT_GE(objectives, 2);
  std::ofstream(dir_.File("plan.yaml")) << Plan(3);
  absl::StatusOr<v1::PlanInfo> reloaded = collector_->ReloadPlan("test");
  EXPECT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.status().message().find("(--max_objectives_per_plan)"),
            absl::string_view::npos);
  EXPECT_EQ(
      Metric(
          R"(aims_collector_limit_rejections_total{limit="objectives_per_plan"})"),
      1);
  std::ofstream(dir_.File("plan.yaml")) << Plan(1);
  absl::StatusOr<v1::PlanInfo> smaller = collector_->ReloadPlan("test");
  ASSERT_TRUE(smaller.ok()) << smaller.status();
  EXPECT_EQ(Metric("aims_collector_plan_objectives"), objectives - 1);
}

}  // namespace
}  // namespace aims::collector

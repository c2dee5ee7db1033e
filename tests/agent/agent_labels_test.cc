// Delayed labels at a real aims-agent process: what its window reports carry
// (join records of the predictions still awaiting a label, forwarded labels)
// and that they survive kill -9 exactly once. The collector is a recording
// stub that stores every report part as received and acknowledges whole
// reports like the real one (the central join that consumes them is the
// collector's, tested there).
#include <signal.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::MetricValue;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

// Stores reports by (sequence, part) and acknowledges a sequence once all
// its parts are held; a resent part is counted and not stored again.
class RecordingCollector final : public v1::IngestService::Service {
 public:
  grpc::Status Report(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::IngestResponse, v1::IngestRequest>* stream)
      override {
    v1::IngestRequest in;
    if (!stream->Read(&in) || !in.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no hello");
    }
    v1::IngestResponse welcome;
    welcome.mutable_welcome()->set_collector_id("stub");
    welcome.mutable_welcome()->set_slot(1);
    welcome.mutable_welcome()->set_durable_sequence(durable());
    stream->Write(welcome);
    while (stream->Read(&in)) {
      uint64_t ack = 0;
      if (in.has_report()) {
        ack = Store(in.report());
      } else if (in.has_gap()) {
        absl::MutexLock lock(&mu_);
        ++gaps_;
        durable_ = std::max(durable_, in.gap().last_sequence());
        ack = durable_;
      } else if (in.has_goodbye()) {
        return grpc::Status::OK;
      }
      if (ack > 0) {
        v1::IngestResponse out;
        out.mutable_ack()->set_durable_sequence(ack);
        stream->Write(out);
      }
    }
    return grpc::Status::OK;
  }

  uint64_t durable() {
    absl::MutexLock lock(&mu_);
    return durable_;
  }
  // The whole reports held, parts merged, by sequence.
  std::map<uint64_t, v1::WindowReport> Reports() {
    absl::MutexLock lock(&mu_);
    std::map<uint64_t, v1::WindowReport> out;
    for (const auto& [key, part] : parts_) {
      v1::WindowReport& r = out[key.first];
      *r.mutable_window_start() = part.window_start();
      r.mutable_summary()->mutable_operational()->MergeFrom(
          part.summary().operational());
      r.mutable_predictions()->MergeFrom(part.predictions());
      r.mutable_labels()->MergeFrom(part.labels());
    }
    return out;
  }
  int gaps() {
    absl::MutexLock lock(&mu_);
    return gaps_;
  }

 private:
  // Returns the sequence to acknowledge (0: none yet).
  uint64_t Store(const v1::WindowReport& report) {
    absl::MutexLock lock(&mu_);
    const uint32_t count = std::max<uint32_t>(1, report.part_count());
    parts_.emplace(std::make_pair(report.sequence(), report.part_index()),
                   report);
    for (uint32_t i = 0; i < count; ++i) {
      if (!parts_.contains({report.sequence(), i})) return 0;
    }
    durable_ = std::max(durable_, report.sequence());
    return durable_;
  }

  absl::Mutex mu_;
  std::map<std::pair<uint64_t, uint32_t>, v1::WindowReport> parts_
      ABSL_GUARDED_BY(mu_);
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  int gaps_ ABSL_GUARDED_BY(mu_) = 0;
};

class AgentLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &collector_port_);
    builder.RegisterService(&collector_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(collector_port_, 0);
  }
  void TearDown() override {
    agent_.reset();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(1));
  }

  void StartAgent() {
    ++agent_runs_;
    const std::string ports = dir_.File(absl::StrCat("agent", agent_runs_));
    agent_ = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_AGENT_BIN, "--model_name=credit", "--model_version=v1",
            "--environment=it", "--agent_id=replica-1",
            absl::StrCat("--collector=127.0.0.1:", collector_port_),
            "--http_listen=127.0.0.1:0", "--window=1h", "--grace_period=20s",
            // Checkpoints every 512 KiB of a window's log; pending
            // predictions may hold 256 KiB.
            "--intake_log_max_bytes=4194304", "--reference_events=0",
            "--data_dir=" + dir_.File("agent"), "--ports_file=" + ports},
        dir_.File("agent.log"));
    port_ = WaitForPort(ports, "http");
    ASSERT_NE(port_, 0) << testing::ReadFile(dir_.File("agent.log"));
  }

  // Posts and returns the answer's status ("200 {...}" on success).
  std::string Post(const std::string& path, const std::string& body) {
    httplib::Client http("127.0.0.1", port_);
    auto res = http.Post(path, body, "application/json");
    return res ? absl::StrCat(res->status, " ", res->body) : "no answer";
  }
  double Metric(const std::string& series) {
    httplib::Client http("127.0.0.1", port_);
    auto res = http.Get("/metrics");
    return res ? MetricValue(res->body, series) : -1;
  }

  // Predictions p<from>..p<to-1> (each with a 400-byte feature, so that
  // the intake log checkpoints), in one request.
  std::string Predictions(int from, int to) {
    const std::string pad(400, 'x');
    std::string body = "[";
    for (int i = from; i < to; ++i) {
      absl::StrAppend(&body, i > from ? "," : "", R"({"prediction_id":"p)", i,
                      R"(","prediction":)", i % 2, R"(,"score":0.)", i % 10,
                      R"(,"features":{"pad":")", pad,
                      R"("},"attributes":{"gender":")", i % 3 ? "f" : "m",
                      R"("}})");
    }
    return body + "]";
  }
  static std::string Labels(const std::string& prefix, int from, int to) {
    std::string body = "[";
    for (int i = from; i < to; ++i) {
      absl::StrAppend(&body, i > from ? "," : "", R"({"prediction_id":")",
                      prefix, i, R"(","label":1})");
    }
    return body + "]";
  }

  testing::TempDir dir_;
  RecordingCollector collector_;
  std::unique_ptr<grpc::Server> server_;
  int collector_port_ = 0;
  int port_ = 0;
  int agent_runs_ = 0;
  std::unique_ptr<Subprocess> agent_;
};

// kill -9 twice with predictions awaiting their labels and labels to
// forward in the open window (some of them only in an intake log
// checkpoint): after each restart labels still go beside the predictions
// taken before the kill, resends are still refused, and the reports
// delivered at the end carry every prediction's join record and every
// forwarded label exactly once (the agent joins none).
TEST_F(AgentLabelsTest, KilledAgentKeepsPendingPredictionsAndForwardedLabels) {
  StartAgent();
  for (int from = 0; from < 1200; from += 200) {
    ASSERT_EQ(Post("/v1/events", Predictions(from, from + 200)).substr(0, 3),
              "200");
  }
  ASSERT_EQ(Post("/v1/labels", Labels("p", 0, 300)).substr(0, 3), "200");
  ASSERT_EQ(Post("/v1/labels", Labels("elsewhere-", 0, 100)).substr(0, 3),
            "200");
  EXPECT_GT(Metric("aims_agent_intake_log_checkpoints_total"), 0);
  EXPECT_EQ(Metric(R"(aims_agent_labels_total{outcome="forwarded"})"), 400);
  EXPECT_EQ(agent_->Signal(SIGKILL), 128 + SIGKILL);

  StartAgent();
  // The predictions taken before the kill still wait in the window.
  ASSERT_EQ(Post("/v1/labels", Labels("p", 300, 400)).substr(0, 3), "200");
  const std::string resend = Post("/v1/events", Predictions(1000, 1001));
  ASSERT_EQ(Post("/v1/events", Predictions(1200, 1300)).substr(0, 3), "200");
  ASSERT_EQ(Post("/v1/labels", Labels("elsewhere-", 100, 150)).substr(0, 3),
            "200");
  EXPECT_EQ(agent_->Signal(SIGKILL), 128 + SIGKILL);

  StartAgent();
  EXPECT_EQ(agent_->Signal(SIGTERM), 0);  // closes the window, drains
  ASSERT_TRUE(
      WaitFor([&] { return collector_.durable() > 0; }, absl::Seconds(5)));

  uint64_t events = 0, matched = 0, awaited = 0;
  std::map<std::string, int> records, forwarded;
  // Window of each record and label: a label goes in its prediction's
  // report while the prediction waits, else in a later one.
  std::map<std::string, int64_t> record_window, label_window;
  for (const auto& [seq, report] : collector_.Reports()) {
    const v1::OperationalSummary& op = report.summary().operational();
    events += op.event_count();
    matched += op.labels_matched();
    awaited += op.labels_awaited();
    EXPECT_EQ(static_cast<uint64_t>(report.predictions_size()),
              op.labels_awaited());
    for (const v1::PendingPrediction& p : report.predictions()) {
      ++records[p.prediction_id()];
      record_window[p.prediction_id()] = report.window_start().seconds();
      EXPECT_EQ(p.groups().at("gender"),
                std::stoi(p.prediction_id().substr(1)) % 3 ? "f" : "m");
    }
    for (const v1::LabelEvent& l : report.labels()) {
      ++forwarded[l.prediction_id()];
      label_window[l.prediction_id()] = report.window_start().seconds();
    }
  }
  EXPECT_EQ(collector_.gaps(), 0);
  // The resend of p1000 was refused (it waited) unless its window had
  // closed; either way it is counted once below.
  const uint64_t resent = resend.substr(0, 3) == "200" ? 1 : 0;
  EXPECT_EQ(events, 1300u + resent);
  // The agent credits no label: each of p0..p399 is forwarded once, and
  // every prediction (labelled or not) goes out as a join record once.
  EXPECT_EQ(matched, 0u);
  for (const auto& [id, n] : forwarded) EXPECT_EQ(n, 1) << id;
  for (int i = 0; i < 400; ++i) {
    const std::string id = absl::StrCat("p", i);
    EXPECT_EQ(forwarded[id], 1) << id;
    EXPECT_GE(label_window[id], record_window[id]) << id;
  }
  for (int i = 0; i < 150; ++i) {
    EXPECT_EQ(forwarded[absl::StrCat("elsewhere-", i)], 1) << i;
  }
  EXPECT_EQ(forwarded.size(), 550u);
  for (const auto& [id, n] : records) {
    EXPECT_EQ(n, id == "p1000" && resent ? 2 : 1) << id;
  }
  for (int i = 0; i < 1300; ++i) {
    EXPECT_GE(records[absl::StrCat("p", i)], 1) << i;
  }
  EXPECT_EQ(awaited, 1300u + resent);
  EXPECT_EQ(records.size(), 1300u);
}

// Event time across kill -9: events of the window open now and of a window
// three hours back (late: an extra report of that window, counted in
// late_events) are each delivered once, whether the kill left them in the
// intake log or in the spool.
TEST_F(AgentLabelsTest, KilledAgentKeepsEventsOfSeveralWindows) {
  const absl::Time now = absl::Now();
  auto events = [](absl::Time at, int n) {
    std::string body = "[";
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&body, i ? "," : "", R"({"prediction":1,"timestamp":)",
                      absl::ToUnixSeconds(at), "}");
    }
    return body + "]";
  };
  StartAgent();
  // One request for both windows: each window's log segment holds the
  // events that went to it.
  std::string both = events(now - absl::Hours(3), 100);
  both.back() = ',';
  both += events(now, 50).substr(1);
  ASSERT_EQ(Post("/v1/events", both).substr(0, 3), "200");
  ASSERT_EQ(Post("/v1/events", R"([{"prediction":0}])").substr(0, 3), "200");
  EXPECT_EQ(Metric("aims_agent_late_events_total"), 100);
  EXPECT_EQ(agent_->Signal(SIGKILL), 128 + SIGKILL);
  StartAgent();
  ASSERT_EQ(Post("/v1/events", events(now - absl::Hours(3), 20)).substr(0, 3),
            "200");
  EXPECT_EQ(agent_->Signal(SIGKILL), 128 + SIGKILL);
  StartAgent();
  EXPECT_EQ(agent_->Signal(SIGTERM), 0);

  const absl::Time old_window =
      absl::UnixEpoch() +
      absl::Floor(now - absl::Hours(3) - absl::UnixEpoch(), absl::Hours(1));
  uint64_t events_total = 0, late = 0, old = 0;
  for (const auto& [seq, report] : collector_.Reports()) {
    const v1::OperationalSummary& op = report.summary().operational();
    events_total += op.event_count();
    late += op.late_events();
    if (report.window_start().seconds() == absl::ToUnixSeconds(old_window)) {
      old += op.event_count();
      EXPECT_EQ(op.late_events(), op.event_count());
    }
  }
  EXPECT_EQ(collector_.gaps(), 0);
  EXPECT_EQ(events_total, 171u);
  EXPECT_EQ(late, 120u);
  EXPECT_EQ(old, 120u);
}

}  // namespace
}  // namespace aims

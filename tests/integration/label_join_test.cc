// The collector's central label join with the real binary on loopback:
// window reports carrying join records are sent over a real ingest stream
// by two "replicas", labels are posted over HTTP and gRPC (some before their
// prediction's report), the collector is killed with SIGKILL in the middle
// of the label traffic and restarted, corrections follow; at the end each
// window's summary counts every acknowledged label exactly once, with its
// latest value, in its prediction's window.
#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/labels.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

constexpr int kWindows = 4;
constexpr int kPerWindow = 200;

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("churn");
  m.set_version("v3");
  m.set_environment("prod");
  return m;
}

std::string Id(int window, int i) { return absl::StrCat("w", window, "-", i); }
std::string Predicted(int i) { return i % 2 ? "1" : "0"; }

// Sends reports over one ingest stream as `agent` and waits for the durable
// acknowledgement of the last.
bool SendReports(int port, const std::string& agent,
                 const std::vector<v1::WindowReport>& reports) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::IngestService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  auto stream = stub->Report(&context);
  v1::IngestRequest hello;
  hello.mutable_hello()->mutable_agent()->set_agent_id(agent);
  *hello.mutable_hello()->mutable_model() = Model();
  hello.mutable_hello()->set_protocol_version(1);
  if (!stream->Write(hello)) return false;
  v1::IngestResponse response;
  if (!stream->Read(&response) || !response.has_welcome()) return false;
  for (const v1::WindowReport& r : reports) {
    v1::IngestRequest request;
    *request.mutable_report() = r;
    if (!stream->Write(request)) return false;
  }
  while (stream->Read(&response)) {
    if (response.has_rejection()) return false;
    if (response.has_ack() &&
        response.ack().durable_sequence() >= reports.back().sequence()) {
      stream->WritesDone();
      return stream->Finish().ok();
    }
  }
  return false;
}

v1::WindowReport Report(const std::string& agent, uint64_t seq,
                        absl::Time start, int window) {
  v1::WindowReport r;
  r.set_agent_id(agent);
  r.set_sequence(seq);
  *r.mutable_window_start() = ToProto(start);
  *r.mutable_window_end() = ToProto(start + absl::Minutes(1));
  r.mutable_summary()->mutable_operational()->set_event_count(kPerWindow);
  r.mutable_summary()->mutable_operational()->set_labels_awaited(kPerWindow);
  for (int i = 0; i < kPerWindow; ++i) {
    v1::PendingPrediction* p = r.add_predictions();
    p->set_prediction_id(Id(window, i));
    *p->mutable_predicted_at() = ToProto(start + absl::Milliseconds(i * 100));
    p->mutable_prediction()->set_class_label(Predicted(i));
  }
  return r;
}

class LabelJoinIntegrationTest : public ::testing::Test {
 protected:
  void Start() {
    collector_ = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_COLLECTOR_BIN,
            absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
            absl::StrCat("--http_listen=127.0.0.1:", http_port_),
            "--data_dir=" + dir_.File("collector"),
            "--ports_file=" + dir_.File("collector.ports")},
        dir_.File(absl::StrCat("collector", ++starts_, ".log")));
    ASSERT_NE(WaitForPort(dir_.File("collector.ports"), "http"), 0)
        << testing::ReadFile(
               dir_.File(absl::StrCat("collector", starts_, ".log")));
  }

  // One batch of labels, over HTTP (even batches) or gRPC; true once the
  // collector accepted every label.
  bool Post(int batch,
            const std::vector<std::pair<std::string, std::string>>& labels) {
    if (batch % 2 == 0) {
      std::string body = "[";
      for (const auto& [id, label] : labels) {
        absl::StrAppend(&body, body.size() > 1 ? "," : "",
                        R"({"prediction_id":")", id, R"(","label":")", label,
                        R"("})");
      }
      body += "]";
      httplib::Client client("127.0.0.1", http_port_);
      client.set_read_timeout(5, 0);
      auto res = client.Post("/v1/labels?model=churn&environment=prod", body,
                             "application/json");
      return res && res->status == 200 &&
             res->body.find(absl::StrCat("\"accepted\":", labels.size())) !=
                 std::string::npos;
    }
    auto stub = v1::LabelService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                            grpc::InsecureChannelCredentials()));
    v1::SubmitModelLabelsRequest request;
    request.set_model("churn");
    request.set_environment("prod");
    for (const auto& [id, label] : labels) {
      v1::LabelEvent* l = request.add_labels();
      l->set_prediction_id(id);
      l->mutable_label()->set_class_label(label);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    v1::SubmitResponse response;
    return stub->SubmitLabels(&context, request, &response).ok() &&
           response.accepted() == labels.size();
  }

  // Posts `batch` until it is accepted (across the collector's restart).
  void PostUntilAccepted(
      int batch,
      const std::vector<std::pair<std::string, std::string>>& labels) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!Post(batch, labels)) {
      ASSERT_LT(absl::Now(), deadline) << "labels never accepted";
      {
        absl::MutexLock lock(&mu_);
        ++refused_posts_;
      }
      absl::SleepFor(absl::Milliseconds(100));  // the collector restarts
    }
    absl::MutexLock lock(&mu_);
    ++accepted_batches_;
  }

  testing::TempDir dir_;
  int grpc_port_ = testing::FreePort();
  int http_port_ = testing::FreePort();
  int starts_ = 0;
  std::unique_ptr<Subprocess> collector_;
  absl::Mutex mu_;
  int accepted_batches_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_posts_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(LabelJoinIntegrationTest,
       KillNineDuringLabelTrafficLosesAndDoublesNothing) {
  Start();
  const absl::Time base =
      absl::UnixEpoch() +
      absl::Floor(absl::Now() - absl::Minutes(30) - absl::UnixEpoch(),
                  absl::Minutes(1));
  auto start_of = [&](int w) { return base + absl::Minutes(w); };
  // Replica a1 reports windows 0 and 1 now; replica a2 reports 2 and 3
  // only after their labels were posted (those wait as pending).
  ASSERT_TRUE(SendReports(
      grpc_port_, "a1",
      {Report("a1", 1, start_of(0), 0), Report("a1", 2, start_of(1), 1)}));
  // The final label of each prediction: 80 % right.
  std::map<std::string, std::string> final_label;
  std::vector<std::vector<std::pair<std::string, std::string>>> batches;
  for (int w = 0; w < kWindows; ++w) {
    for (int i = 0; i < kPerWindow; i += 40) {
      std::vector<std::pair<std::string, std::string>> batch;
      for (int j = i; j < i + 40; ++j) {
        const std::string label =
            j % 5 == 0 ? (Predicted(j) == "1" ? "0" : "1") : Predicted(j);
        batch.emplace_back(Id(w, j), label);
        final_label[Id(w, j)] = label;
      }
      batches.push_back(std::move(batch));
    }
  }
  std::thread traffic([&] {
    for (size_t b = 0; b < batches.size(); ++b) {
      PostUntilAccepted(static_cast<int>(b), batches[b]);
    }
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&mu_);
        return accepted_batches_ >= static_cast<int>(batches.size()) / 3;
      },
      absl::Seconds(60)));
  ASSERT_EQ(collector_->Signal(SIGKILL), 128 + SIGKILL);
  Start();
  traffic.join();
  {
    // The kill hit the traffic: posts were refused and retried.
    absl::MutexLock lock(&mu_);
    EXPECT_GT(refused_posts_, 0);
  }
  // Corrections after the restart: the first 20 of window 0 flip, posted
  // twice (the repeat counts once).
  std::vector<std::pair<std::string, std::string>> corrections;
  for (int i = 0; i < 20; ++i) {
    const std::string flipped = final_label[Id(0, i)] == "1" ? "0" : "1";
    corrections.emplace_back(Id(0, i), flipped);
    final_label[Id(0, i)] = flipped;
  }
  PostUntilAccepted(0, corrections);
  PostUntilAccepted(1, corrections);
  ASSERT_TRUE(SendReports(
      grpc_port_, "a2",
      {Report("a2", 1, start_of(2), 2), Report("a2", 2, start_of(3), 3)}));

  std::vector<uint64_t> expected_correct(kWindows, 0);
  for (int w = 0; w < kWindows; ++w) {
    for (int i = 0; i < kPerWindow; ++i) {
      if (final_label[Id(w, i)] == Predicted(i)) ++expected_correct[w];
    }
  }
  auto query = v1::QueryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                          grpc::InsecureChannelCredentials()));
  v1::GetSummariesResponse summaries;
  auto settled = [&] {
    v1::GetSummariesRequest request;
    *request.mutable_model() = Model();
    *request.mutable_from() = ToProto(base);
    *request.mutable_to() = ToProto(start_of(kWindows));
    *request.mutable_step() = ToProtoDuration(absl::Minutes(1));
    grpc::ClientContext context;
    summaries.Clear();
    if (!query->GetSummaries(&context, request, &summaries).ok() ||
        summaries.buckets_size() != kWindows) {
      return false;
    }
    for (const v1::SummaryBucket& b : summaries.buckets()) {
      if (b.summary().performance().labelled_count() != kPerWindow) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(settled, absl::Seconds(30)))
      << summaries.DebugString().substr(0, 4000);
  for (int w = 0; w < kWindows; ++w) {
    const v1::WindowSummary& s = summaries.buckets(w).summary();
    SCOPED_TRACE(absl::StrCat("window ", w));
    EXPECT_EQ(s.operational().event_count(), kPerWindow);
    EXPECT_EQ(s.operational().labels_matched(), kPerWindow);
    EXPECT_EQ(s.operational().labels_late(), kPerWindow);
    EXPECT_EQ(s.performance().labelled_count(), kPerWindow);
    const auto& c = s.performance().confusion();
    const int n = c.classes_size();
    uint64_t correct = 0, total = 0;
    for (int i = 0; i < n; ++i) correct += c.counts(i * n + i);
    for (uint64_t v : c.counts()) total += v;
    EXPECT_EQ(total, kPerWindow);
    EXPECT_EQ(correct, expected_correct[w]);
  }
  httplib::Client client("127.0.0.1", http_port_);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(testing::MetricValue(metrics->body, "aims_collector_label_pending"),
            0);
  EXPECT_EQ(testing::MetricValue(metrics->body, "aims_collector_label_records"),
            kWindows * kPerWindow);
}

}  // namespace
}  // namespace aims

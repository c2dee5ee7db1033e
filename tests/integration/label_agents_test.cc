// Delayed labels with the real binaries on loopback, as issue 24 states it:
// predictions made on one replica (agent A) are labelled through the other
// replica (agent B), and through A after A was killed with SIGKILL and
// restarted. Neither agent holds those predictions any more, so both forward
// the labels; the collector's central join credits every label to the
// window of its prediction, once.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

constexpr int kPredictions = 120;

// Prediction i is class i % 2; its true label differs for every fifth.
int Predicted(int i) { return i % 2; }
int Truth(int i) { return i % 5 == 0 ? 1 - Predicted(i) : Predicted(i); }

struct Agent {
  std::unique_ptr<Subprocess> process;
  int http = 0;
};

Agent StartAgent(const testing::TempDir& dir, const std::string& id,
                 int collector_grpc) {
  Agent a;
  const std::string ports = dir.File(id + ".ports");
  std::remove(ports.c_str());  // a restart must not read the old port
  a.process = std::make_unique<Subprocess>(
      std::vector<std::string>{
          AIMS_AGENT_BIN, "--model_name=loans", "--model_version=v2",
          "--environment=it", "--agent_id=" + id, "--pod=" + id,
          absl::StrCat("--collector=127.0.0.1:", collector_grpc),
          "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0",
          "--window=1s", "--reference_events=0", "--data_dir=" + dir.File(id),
          "--ports_file=" + ports},
      dir.File(id + ".log"));  // appended to across restarts
  a.http = WaitForPort(ports, "http");
  return a;
}

std::string Labels(int from, int to) {
  std::string body = "[";
  for (int i = from; i < to; ++i) {
    if (i > from) body += ",";
    absl::StrAppend(&body, R"({"prediction_id":"p)", i, R"(","label":)",
                    Truth(i), "}");
  }
  return body + "]";
}

bool Post(int port, const std::string& path, const std::string& body) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Post(path, body, "application/json");
  EXPECT_TRUE(res && res->status == 200)
      << path << ": " << (res ? res->body : "no answer");
  return res && res->status == 200;
}

TEST(LabelAgentsTest, LabelsViaTheOtherReplicaAndAfterARestartJoinTheirWindow) {
  testing::TempDir dir;
  const int grpc_port = testing::FreePort();
  Subprocess collector(
      {AIMS_COLLECTOR_BIN, absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("collector"),
       "--ports_file=" + dir.File("collector.ports")},
      dir.File("collector.log"));
  ASSERT_NE(WaitForPort(dir.File("collector.ports"), "http"), 0)
      << testing::ReadFile(dir.File("collector.log"));
  Agent a = StartAgent(dir, "pod-a", grpc_port);
  Agent b = StartAgent(dir, "pod-b", grpc_port);
  ASSERT_NE(a.http, 0) << testing::ReadFile(dir.File("pod-a.log"));
  ASSERT_NE(b.http, 0) << testing::ReadFile(dir.File("pod-b.log"));

  // The predictions, all on A, without labels.
  const absl::Time from = absl::Now() - absl::Seconds(5);
  std::string events = "[";
  for (int i = 0; i < kPredictions; ++i) {
    if (i > 0) events += ",";
    absl::StrAppend(&events, R"({"prediction_id":"p)", i, R"(","prediction":)",
                    Predicted(i), R"(,"features":{"x":)", i, "}}");
  }
  ASSERT_TRUE(Post(a.http, "/v1/events", events + "]"));

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto queries = v1::QueryService::NewStub(channel);
  // Per-second buckets of everything from `from` to now.
  auto buckets = [&](v1::GetSummariesResponse* response) {
    v1::GetSummariesRequest request;
    request.mutable_model()->set_name("loans");
    request.mutable_model()->set_version("v2");
    request.mutable_model()->set_environment("it");
    *request.mutable_from() = ToProto(from);
    *request.mutable_to() = ToProto(absl::Now() + absl::Seconds(5));
    request.mutable_step()->set_seconds(1);
    grpc::ClientContext context;
    return queries->GetSummaries(&context, request, response).ok();
  };
  auto total = [&](auto field) {
    v1::GetSummariesResponse response;
    uint64_t sum = 0;
    if (!buckets(&response)) return uint64_t{0};
    for (const v1::SummaryBucket& bucket : response.buckets()) {
      sum += field(bucket.summary());
    }
    return sum;
  };
  auto awaited = [](const v1::WindowSummary& s) {
    return s.operational().labels_awaited();
  };
  auto labelled = [](const v1::WindowSummary& s) {
    return s.performance().labelled_count();
  };
  // A's windows closed and stored: every prediction awaits its label.
  ASSERT_TRUE(WaitFor([&] { return total(awaited) == kPredictions; },
                      absl::Seconds(20)))
      << "awaited " << total(awaited) << "\n"
      << testing::ReadFile(dir.File("pod-a.log"));

  // Half the labels through the other replica.
  ASSERT_TRUE(Post(b.http, "/v1/labels", Labels(0, kPredictions / 2)));
  // A crashes and comes back; the other half goes through it.
  a.process->Signal(SIGKILL);
  a = StartAgent(dir, "pod-a", grpc_port);
  ASSERT_NE(a.http, 0) << testing::ReadFile(dir.File("pod-a.log"));
  ASSERT_TRUE(
      Post(a.http, "/v1/labels", Labels(kPredictions / 2, kPredictions)));

  ASSERT_TRUE(WaitFor([&] { return total(labelled) == kPredictions; },
                      absl::Seconds(30)))
      << "labelled " << total(labelled) << "\n"
      << testing::ReadFile(dir.File("collector.log"));
  // A few more flushes and windows: nothing is counted twice.
  absl::SleepFor(absl::Seconds(3));
  v1::GetSummariesResponse response;
  ASSERT_TRUE(buckets(&response));
  uint64_t labelled_total = 0, matched = 0, late = 0, right = 0;
  for (const v1::SummaryBucket& bucket : response.buckets()) {
    const v1::WindowSummary& s = bucket.summary();
    // Each label is in its prediction's window: a window has exactly as
    // many labels as predictions that awaited one.
    EXPECT_EQ(s.performance().labelled_count(),
              s.operational().labels_awaited())
        << "window at " << FromProto(bucket.start());
    labelled_total += s.performance().labelled_count();
    matched += s.operational().labels_matched();
    late += s.operational().labels_late();
    const auto& counts = s.performance().confusion().counts();
    const int n = s.performance().confusion().classes_size();
    for (int c = 0; c < n; ++c) right += counts.Get(c * n + c);
  }
  EXPECT_EQ(labelled_total, kPredictions);
  EXPECT_EQ(matched, kPredictions);
  EXPECT_EQ(late, kPredictions);
  int expected_right = 0;
  for (int i = 0; i < kPredictions; ++i) {
    expected_right += Truth(i) == Predicted(i);
  }
  EXPECT_EQ(right, static_cast<uint64_t>(expected_right));
}

}  // namespace
}  // namespace aims

// Delayed labels with the real binaries on loopback, as issue 24 states it:
// predictions made on one replica (agent A) are labelled through the other
// replica (agent B), and through A after A was killed with SIGKILL and
// restarted. Neither agent holds those predictions any more, so both forward
// the labels; the collector's central join credits every label to the
// window of its prediction, once. And corrections of labels that came while
// the prediction's window was open (the agent forwards those too, beside
// the prediction's join record): a corrected label posted to the collector,
// or through the other replica, replaces the first one.
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
                 int collector_grpc, const std::string& window = "1s") {
  Agent a;
  const std::string ports = dir.File(id + ".ports");
  std::remove(ports.c_str());  // a restart must not read the old port
  a.process = std::make_unique<Subprocess>(
      std::vector<std::string>{
          AIMS_AGENT_BIN, "--model_name=loans", "--model_version=v2",
          "--environment=it", "--agent_id=" + id, "--pod=" + id,
          absl::StrCat("--collector=127.0.0.1:", collector_grpc),
          "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0",
          "--window=" + window, "--reference_events=0",
          "--data_dir=" + dir.File(id), "--ports_file=" + ports},
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

// Correct predictions of a summary's confusion counts.
uint64_t Correct(const v1::WindowSummary& s) {
  const auto& counts = s.performance().confusion().counts();
  const int n = s.performance().confusion().classes_size();
  uint64_t right = 0;
  for (int c = 0; c < n; ++c) right += counts.Get(c * n + c);
  return right;
}

// Issue 24: a label that came to agent A while its prediction's window was
// still open there used to be joined in A and could never be corrected.
// Now A forwards it beside the prediction's join record; a corrected label
// posted to the collector after the window closed (for "pa"), or through
// agent B (for "qa"), replaces it. The window counts each prediction once,
// with its corrected value; "ra" stays unlabelled.
TEST(LabelAgentsTest, CorrectedInWindowLabelsReplaceTheFirstOnes) {
  testing::TempDir dir;
  const int grpc_port = testing::FreePort();
  Subprocess collector(
      {AIMS_COLLECTOR_BIN, absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("collector"),
       "--ports_file=" + dir.File("collector.ports")},
      dir.File("collector.log"));
  const int collector_http = WaitForPort(dir.File("collector.ports"), "http");
  ASSERT_NE(collector_http, 0) << testing::ReadFile(dir.File("collector.log"));
  // Windows long enough to post a prediction and its label in one.
  constexpr absl::Duration kWindow = absl::Seconds(4);
  Agent a = StartAgent(dir, "pod-a", grpc_port, "4s");
  Agent b = StartAgent(dir, "pod-b", grpc_port, "4s");
  ASSERT_NE(a.http, 0) << testing::ReadFile(dir.File("pod-a.log"));
  ASSERT_NE(b.http, 0) << testing::ReadFile(dir.File("pod-b.log"));

  // Windows are aligned to multiples of their length: start early in one.
  auto window_of = [&](absl::Time t) {
    return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), kWindow);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        const absl::Time now = absl::Now();
        return now - window_of(now) < absl::Milliseconds(500);
      },
      kWindow + absl::Seconds(1)));
  const absl::Time start = window_of(absl::Now());
  // All predicted 1; A gets the true label 1 of "pa" and "qa" in the window.
  ASSERT_TRUE(Post(a.http, "/v1/events",
                   R"([{"prediction_id":"pa","prediction":1,"features":{"x":1}},
                       {"prediction_id":"qa","prediction":1,"features":{"x":2}},
                       {"prediction_id":"ra","prediction":1,"features":{"x":3}}])"));
  ASSERT_TRUE(Post(a.http, "/v1/labels",
                   R"([{"prediction_id":"pa","label":1},
                       {"prediction_id":"qa","label":1}])"));
  ASSERT_EQ(window_of(absl::Now()), start) << "posts took a window";
  {
    httplib::Client http("127.0.0.1", a.http);
    auto metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(
        testing::MetricValue(metrics->body,
                             R"(aims_agent_labels_total{outcome="forwarded"})"),
        2);
    EXPECT_EQ(
        testing::MetricValue(metrics->body, "aims_agent_pending_predictions"),
        3);
  }

  auto queries = v1::QueryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                          grpc::InsecureChannelCredentials()));
  // One bucket: [from, to).
  auto summary = [&](absl::Time from, absl::Time to, v1::WindowSummary* out) {
    v1::GetSummariesRequest request;
    request.mutable_model()->set_name("loans");
    request.mutable_model()->set_version("v2");
    request.mutable_model()->set_environment("it");
    *request.mutable_from() = ToProto(from);
    *request.mutable_to() = ToProto(to);
    grpc::ClientContext context;
    v1::GetSummariesResponse response;
    if (!queries->GetSummaries(&context, request, &response).ok() ||
        response.buckets_size() != 1) {
      return false;
    }
    *out = response.buckets(0).summary();
    return true;
  };
  v1::WindowSummary w;
  // A's report of the window, with both labels joined at the collector.
  ASSERT_TRUE(WaitFor(
      [&] {
        return summary(start, start + kWindow, &w) &&
               w.operational().labels_awaited() == 3 &&
               w.performance().labelled_count() == 2;
      },
      absl::Seconds(30)))
      << w.DebugString() << testing::ReadFile(dir.File("collector.log"));
  EXPECT_EQ(Correct(w), 2u);
  EXPECT_EQ(w.operational().labels_matched(), 2u);
  EXPECT_EQ(w.operational().labels_late(), 0u);  // known in the window

  // The corrections (truly 0), after the window closed: one posted to the
  // collector, one through the other replica.
  ASSERT_GE(absl::Now(), start + kWindow);
  ASSERT_TRUE(Post(collector_http, "/v1/labels?model=loans&environment=it",
                   R"([{"prediction_id":"pa","label":0}])"));
  ASSERT_TRUE(
      Post(b.http, "/v1/labels", R"([{"prediction_id":"qa","label":0}])"));
  ASSERT_TRUE(WaitFor(
      [&] { return summary(start, start + kWindow, &w) && Correct(w) == 0; },
      absl::Seconds(30)))
      << w.DebugString() << testing::ReadFile(dir.File("collector.log"));
  // Each prediction once, with its corrected value, in its window.
  EXPECT_EQ(w.operational().event_count(), 3u);
  EXPECT_EQ(w.operational().labels_awaited(), 3u);
  EXPECT_EQ(w.performance().labelled_count(), 2u);
  EXPECT_EQ(w.operational().labels_matched(), 2u);
  EXPECT_EQ(w.operational().labels_late(), 2u);
  const v1::ConfusionMatrix& m = w.performance().confusion();
  auto index = [&](const std::string& c) {
    for (int i = 0; i < m.classes_size(); ++i) {
      if (m.classes(i) == c) return i;
    }
    return -1;
  };
  ASSERT_GE(index("0"), 0);
  ASSERT_GE(index("1"), 0);
  // Rows are the truth: truly 0, predicted 1.
  EXPECT_EQ(m.counts(index("0") * m.classes_size() + index("1")), 2u);
  // Nothing credited anywhere else, then or a few flushes later.
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(
      summary(start - absl::Minutes(1), absl::Now() + absl::Minutes(1), &w));
  EXPECT_EQ(w.performance().labelled_count(), 2u);
  EXPECT_EQ(Correct(w), 0u);
  httplib::Client http("127.0.0.1", collector_http);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(testing::MetricValue(metrics->body,
                                 "aims_collector_label_corrections_total"),
            2);
  EXPECT_EQ(testing::MetricValue(metrics->body, "aims_collector_label_pending"),
            0);
}

}  // namespace
}  // namespace aims

// Delayed labels with the real binaries on loopback, as issue 24 states it:
// predictions made on one replica (agent A) are labelled through the other
// replica (agent B), and through A after A was killed with SIGKILL and
// restarted. Neither agent holds those predictions any more, so both forward
// the labels; the collector's central join credits every label to the
// window of its prediction, once. And corrections of labels that came while
// the prediction's window was open (the agent forwards those too, beside
// the prediction's join record): a corrected label posted to the collector,
// or through the other replica, replaces the first one. And the same bad
// label batches get the same answers from an agent and from the collector.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "aims/v1/error.pb.h"
#include "aims/v1/event.grpc.pb.h"
#include "aims/v1/labels.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/time_util.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
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
  int grpc = 0;
};

Agent StartAgent(const testing::TempDir& dir, const std::string& id,
                 int collector_grpc, const std::string& window = "1s",
                 std::vector<std::string> flags = {}) {
  Agent a;
  const std::string ports = dir.File(id + ".ports");
  std::remove(ports.c_str());  // a restart must not read the old port
  std::vector<std::string> args = {
      AIMS_AGENT_BIN,
      "--model_name=loans",
      "--model_version=v2",
      "--environment=it",
      "--agent_id=" + id,
      "--pod=" + id,
      absl::StrCat("--collector=127.0.0.1:", collector_grpc),
      "--http_listen=127.0.0.1:0",
      "--grpc_listen=127.0.0.1:0",
      "--window=" + window,
      "--reference_events=0",
      "--data_dir=" + dir.File(id),
      "--ports_file=" + ports};
  args.insert(args.end(), flags.begin(), flags.end());
  a.process = std::make_unique<Subprocess>(
      args, dir.File(id + ".log"));  // appended to across restarts
  a.http = WaitForPort(ports, "http");
  a.grpc = WaitForPort(ports, "grpc");
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

// An HTTP answer: "<status> " and the SubmitResponse, or the error message.
std::string HttpAnswer(int port, const std::string& path,
                       const std::string& body) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Post(path, body, "application/json");
  if (!res) return "no answer";
  v1::SubmitResponse submit;
  if (google::protobuf::util::JsonStringToMessage(res->body, &submit).ok()) {
    return absl::StrCat(res->status, " ", submit.ShortDebugString());
  }
  v1::ErrorResponse error;
  if (google::protobuf::util::JsonStringToMessage(res->body, &error).ok()) {
    return absl::StrCat(res->status, " error: ", error.error());
  }
  return absl::StrCat(res->status, " ", res->body);
}

// A gRPC answer: the status code and message, and the SubmitResponse.
template <typename Stub, typename Request>
std::string GrpcAnswer(Stub& stub, const Request& request) {
  grpc::ClientContext context;
  v1::SubmitResponse response;
  const grpc::Status status = stub.SubmitLabels(&context, request, &response);
  return absl::StrCat(status.error_code(), " ", status.error_message(), " ",
                      response.ShortDebugString());
}

// Issue 24: labels posted to the collector get the same per-item errors as
// at the agent. The same bad batches go to a real agent and to the real
// collector, over HTTP and gRPC; the answers (status, accepted, rejected,
// errors and warnings by index, field and reason) are the same, but for
// the flag a too large batch names (each process its own).
TEST(LabelAgentsTest, BadBatchesGetTheSameErrorsFromAgentAndCollector) {
  testing::TempDir dir;
  const int grpc_port = testing::FreePort();
  Subprocess collector(
      {AIMS_COLLECTOR_BIN, absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("collector"),
       "--ports_file=" + dir.File("collector.ports"),
       "--max_labels_per_batch=4"},
      dir.File("collector.log"));
  const int collector_http = WaitForPort(dir.File("collector.ports"), "http");
  ASSERT_NE(collector_http, 0) << testing::ReadFile(dir.File("collector.log"));
  Agent a =
      StartAgent(dir, "pod-a", grpc_port, "1s", {"--max_events_per_batch=4"});
  ASSERT_NE(a.http, 0) << testing::ReadFile(dir.File("pod-a.log"));
  ASSERT_NE(a.grpc, 0) << testing::ReadFile(dir.File("pod-a.log"));
  const std::string to_collector = "/v1/labels?model=loans&environment=it";

  // HTTP: a missing field, a prediction_id over its limit, a repeated id,
  // an unknown field.
  const std::string bad =
      absl::StrCat(R"([{"prediction_id":"h1","label":1,"colour":"red"},
                       {"label":0},
                       {"prediction_id":")",
                   std::string(129, 'x'), R"(","label":1},
                       {"prediction_id":"h1","label":0}])");
  const std::string agent_bad = HttpAnswer(a.http, "/v1/labels", bad);
  const std::string collector_bad =
      HttpAnswer(collector_http, to_collector, bad);
  // The same but for the flag: the agent's limit is its flag, the
  // collector's is fixed.
  EXPECT_EQ(
      absl::StrReplaceAll(agent_bad, {{" (--max_prediction_id_bytes)", ""}}),
      collector_bad);
  EXPECT_TRUE(absl::StrContains(agent_bad, "accepted: 1 rejected: 3"))
      << agent_bad;
  EXPECT_TRUE(absl::StrContains(
      agent_bad, "129 bytes, limit 128 (--max_prediction_id_bytes)"))
      << agent_bad;
  EXPECT_TRUE(absl::StrContains(collector_bad, "129 bytes, limit 128\""))
      << collector_bad;
  // A timestamp ahead of the clock: each names its own clock.
  const std::string ahead =
      R"([{"prediction_id":"t1","label":1,"timestamp":"2999-01-01T00:00:00Z"}])";
  const std::string agent_ahead = HttpAnswer(a.http, "/v1/labels", ahead);
  const std::string collector_ahead =
      HttpAnswer(collector_http, to_collector, ahead);
  EXPECT_TRUE(absl::StrContains(agent_ahead, "ahead of the agent"))
      << agent_ahead;
  EXPECT_TRUE(absl::StrContains(agent_ahead, "(--max_clock_skew)"))
      << agent_ahead;
  EXPECT_TRUE(absl::StrContains(collector_ahead, "ahead of the collector"))
      << collector_ahead;
  EXPECT_FALSE(absl::StrContains(collector_ahead, "--")) << collector_ahead;
  EXPECT_TRUE(absl::StrContains(agent_bad, "field: \"colour\"")) << agent_bad;
  for (const std::string& body : {std::string("[]"), std::string("")}) {
    const std::string agent_empty = HttpAnswer(a.http, "/v1/labels", body);
    EXPECT_EQ(agent_empty, HttpAnswer(collector_http, to_collector, body));
    EXPECT_TRUE(absl::StartsWith(agent_empty, "400 error: body: ")) << body;
  }
  const std::string too_many = Labels(0, 5);
  EXPECT_EQ(HttpAnswer(a.http, "/v1/labels", too_many),
            "400 error: body: 5 items, limit 4 (--max_events_per_batch)");
  EXPECT_EQ(HttpAnswer(collector_http, to_collector, too_many),
            "400 error: body: 5 items, limit 4 (--max_labels_per_batch)");

  // gRPC: the same per item, an unknown field number among them.
  auto agent_stub = v1::AgentIntakeService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", a.grpc), grpc::InsecureChannelCredentials()));
  auto collector_stub = v1::LabelService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                          grpc::InsecureChannelCredentials()));
  v1::SubmitLabelsRequest to_agent;
  auto add = [&](const std::string& id, const std::string& label) {
    v1::LabelEvent* l = to_agent.add_labels();
    l->set_prediction_id(id);
    if (!label.empty()) l->mutable_label()->set_class_label(label);
    return l;
  };
  v1::LabelEvent* first = add("g1", "1");
  first->GetReflection()->MutableUnknownFields(first)->AddVarint(99, 7);
  add("", "0");
  add("g2", "");
  add("g1", "0");
  v1::SubmitModelLabelsRequest to_central;
  to_central.set_model("loans");
  to_central.set_environment("it");
  *to_central.mutable_labels() = to_agent.labels();
  const std::string agent_grpc = GrpcAnswer(*agent_stub, to_agent);
  EXPECT_EQ(agent_grpc, GrpcAnswer(*collector_stub, to_central));
  EXPECT_TRUE(absl::StrContains(agent_grpc, "accepted: 1 rejected: 3"))
      << agent_grpc;
  EXPECT_TRUE(absl::StrContains(agent_grpc, "field: \"#99\"")) << agent_grpc;
  to_agent.clear_labels();
  to_central.clear_labels();
  EXPECT_EQ(GrpcAnswer(*agent_stub, to_agent),
            "3 labels: an empty batch; send at least one item ");
  EXPECT_EQ(GrpcAnswer(*collector_stub, to_central),
            "3 labels: an empty batch; send at least one item ");
  for (int i = 0; i < 5; ++i) add(absl::StrCat("g", i), "1");
  *to_central.mutable_labels() = to_agent.labels();
  EXPECT_EQ(GrpcAnswer(*agent_stub, to_agent),
            "3 labels: 5 items, limit 4 (--max_events_per_batch) ");
  EXPECT_EQ(GrpcAnswer(*collector_stub, to_central),
            "3 labels: 5 items, limit 4 (--max_labels_per_batch) ");
  // Counted by limit, as at the agent.
  httplib::Client http("127.0.0.1", collector_http);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(
      testing::MetricValue(
          metrics->body,
          R"(aims_collector_limit_rejections_total{limit="labels_per_batch"})"),
      2);
}

}  // namespace
}  // namespace aims

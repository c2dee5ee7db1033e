// Hostile and broken input against a real Agent (HTTP and gRPC intakes over
// loopback) delivering to a real Collector: each limit refuses with an error
// naming the field, the limit and its flag, and is counted; each malformed
// value has the outcome docs/events.md#hostile-input defines; what was
// accepted arrives at the collector exactly once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "aims/v1/error.pb.h"
#include "aims/v1/event.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/proto_json.h"
#include "common/base/time_util.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

using testing::MetricValue;

// Sends `request` as is on a new connection and returns what comes back
// until the server closes it (or 10 s pass).
std::string RawHttp(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector::CollectorOptions co;
    co.grpc_listen = "127.0.0.1:0";
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
    o.grpc_listen = "127.0.0.1:0";
    o.collector = collector_address_;
    o.data_dir = dir_.File("agent");
    o.model.set_name("credit");
    o.model.set_version("v1");
    o.model.set_environment("test");
    o.window = absl::Seconds(1);
    o.grace_period = absl::Seconds(10);
    o.reference_events = 0;  // no first-events profile: plain summaries
    return o;
  }

  void StartAgent(AgentOptions options,
                  const Clock* clock = &RealClock::Get()) {
    agent_ = std::make_unique<Agent>(std::move(options), clock);
    ASSERT_TRUE(agent_->Start().ok());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", agent_->http_port());
    intake_ = v1::AgentIntakeService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", agent_->grpc_port()),
                            grpc::InsecureChannelCredentials()));
  }

  // POSTs `body`; returns "status body".
  std::string Post(const std::string& path, const std::string& body) {
    auto res = http_->Post(path, body, "application/json");
    if (!res) return "no answer";
    if (res->status == 200 || res->status == 400) {
      // Count what the agent said it took.
      const size_t at = res->body.find(R"("accepted":)");
      if (at != std::string::npos && path == "/v1/events") {
        accepted_ += std::stoull(res->body.substr(at + 11));
      }
    }
    return Normalized(absl::StrCat(res->status, " ", res->body));
  }

  // "<status> <json>\n" with the JSON printed as aims prints it
  // (common/base/proto_json.h), so that answers compare by content, whatever
  // the escaping or the printing of empty lists.
  static std::string Normalized(const std::string& answer) {
    const size_t space = answer.find(' ');
    if (space == std::string::npos) return answer;
    std::string json = answer.substr(space + 1);
    if (!json.empty() && json.back() == '\n') json.pop_back();
    const std::string status = answer.substr(0, space + 1);
    v1::SubmitResponse submit;
    if (google::protobuf::util::JsonStringToMessage(json, &submit).ok()) {
      return absl::StrCat(status, ProtoToJson(submit), "\n");
    }
    v1::ErrorResponse error;
    if (google::protobuf::util::JsonStringToMessage(json, &error).ok()) {
      return absl::StrCat(status, ProtoToJson(error), "\n");
    }
    return answer;
  }

  double Metric(const std::string& series) {
    auto res = http_->Get("/metrics");
    return res ? MetricValue(res->body, series) : -1;
  }

  double Limit(const std::string& limit) {
    return Metric(absl::StrCat(R"(aims_agent_limit_rejections_total{limit=")",
                               limit, R"("})"));
  }

  double Overflow(const std::string& limit) {
    return Metric(absl::StrCat(R"(aims_agent_limit_overflows_total{limit=")",
                               limit, R"("})"));
  }

  // Stops the agent (draining its spool) and returns the merged summary the
  // collector holds.
  // Stops the agent and returns the one window the collector holds, once
  // its central join credited `labels_matched` delayed labels to it.
  v1::WindowSummary StopAndCollect(uint64_t labels_matched = 0) {
    EXPECT_TRUE(agent_->Stop());
    auto stub = v1::QueryService::NewStub(grpc::CreateChannel(
        collector_address_, grpc::InsecureChannelCredentials()));
    v1::GetSummariesRequest req;
    req.mutable_model()->set_name("credit");
    req.mutable_model()->set_version("v1");
    req.mutable_model()->set_environment("test");
    // Event time: an event an hour old is in a window an hour back.
    *req.mutable_from() = ToProto(absl::Now() - absl::Hours(2));
    *req.mutable_to() = ToProto(absl::Now() + absl::Hours(1));
    v1::GetSummariesResponse resp;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          grpc::ClientContext ctx;
          resp.Clear();
          return stub->GetSummaries(&ctx, req, &resp).ok() &&
                 resp.buckets_size() == 1 &&
                 resp.buckets(0).summary().operational().labels_matched() >=
                     labels_matched;
        },
        absl::Seconds(30)));
    if (resp.buckets_size() != 1) {
      ADD_FAILURE() << resp.buckets_size() << " buckets";
      return {};
    }
    return resp.buckets(0).summary();
  }

  static const v1::FeatureSummary* Feature(const v1::WindowSummary& s,
                                           const std::string& name) {
    for (const auto& f : s.features()) {
      if (f.name() == name) return &f;
    }
    return nullptr;
  }

  static uint64_t Rejected(const v1::WindowSummary& s,
                           const std::string& reason) {
    auto it = s.operational().rejected_by_reason().find(reason);
    return it == s.operational().rejected_by_reason().end() ? 0 : it->second;
  }

  testing::TempDir dir_;
  std::string collector_address_;
  std::unique_ptr<collector::Collector> collector_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<httplib::Client> http_;
  std::unique_ptr<v1::AgentIntakeService::Stub> intake_;
  uint64_t accepted_ = 0;
};

constexpr char kGood[] = R"([{"prediction":1,"features":{"x":1}}])";

TEST_F(HostileInputTest, HttpLimitsRefuseNamingTheFlagAndAreCounted) {
  AgentOptions o = Options();
  o.max_body_bytes = 4096;
  o.intake.max_events_per_batch = 7;
  o.intake.event.max_features = 3;
  o.intake.event.max_attributes = 2;
  o.intake.event.max_probabilities = 2;
  o.intake.event.max_name_bytes = 8;
  o.intake.event.max_string_bytes = 10;
  o.intake.event.max_prediction_id_bytes = 6;
  StartAgent(o);

  // Message size: 413 before parsing, naming the limit.
  const std::string big = absl::StrCat(R"([{"prediction":1,"features":{"x":")",
                                       std::string(5000, 'a'), R"("}}])");
  EXPECT_EQ(
      Post("/v1/events", big),
      Normalized(absl::StrCat("413 {\"error\":\"body: ", big.size(),
                              " bytes, limit 4096 (--max_body_bytes)\"}\n")));
  // The HTTP server bounds only bodies with a Content-Length: a chunked
  // body or one read until the connection closes is refused up front.
  const std::string chunked =
      RawHttp(agent_->http_port(),
              "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Transfer-Encoding: chunked\r\n\r\n10\r\n[{\"prediction\":1\r\n"
              "2\r\n}]\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.substr(0, 12), "HTTP/1.1 411") << chunked;
  EXPECT_NE(chunked.find("chunked bodies are not accepted"), std::string::npos)
      << chunked;
  const std::string unbounded = RawHttp(
      agent_->http_port(),
      "POST /v1/events HTTP/1.0\r\nHost: x\r\n\r\n[{\"prediction\":1}]");
  EXPECT_EQ(unbounded.substr(0, 12), "HTTP/1.1 411") << unbounded;
  EXPECT_EQ(Limit("body_bytes"), 3);

  // Events per request: the whole request is refused.
  EXPECT_EQ(Post("/v1/events", "[{},{},{},{},{},{},{},{}]"),
            Normalized("400 {\"error\":\"body: 8 items, limit 7 "
                       "(--max_events_per_batch)\"}\n"));
  EXPECT_EQ(Post("/v1/labels", "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n"),
            Normalized("400 {\"error\":\"body: more than 7 items, limit 7 "
                       "(--max_events_per_batch)\"}\n"));
  EXPECT_EQ(Limit("events_per_batch"), 2);
  // An empty batch is refused, saying so (not "accepted 0").
  EXPECT_EQ(Post("/v1/events", "[]"),
            Normalized("400 {\"error\":\"body: an empty batch ([]); send at "
                       "least one item\"}\n"));

  // Per-event limits: that event is refused, the others of the request are
  // taken.
  const std::string answer = Post("/v1/events", R"([
      {"prediction":1,"features":{"a":1,"b":2,"c":3,"d":4}},
      {"prediction":1,"features":{"a":"abcdefghijk"}},
      {"prediction":1,"features":{"abcdefghi":1}},
      {"prediction":1,"attributes":{"a":"x","b":"y","c":"z"}},
      {"probabilities":{"a":0.1,"b":0.2,"c":0.7}},
      {"prediction_id":"p-123456","prediction":1},
      {"prediction":1,"features":{"a":1}}])");
  EXPECT_EQ(
      answer,
      Normalized(
          "200 "
          R"({"accepted":1,"rejected":6,"errors":[)"
          R"j({"index":0,"field":"features","reason":"4 features, limit 3 (--max_features_per_event)"},)j"
          R"j({"index":1,"field":"features.a","reason":"string is 11 bytes, limit 10 (--max_string_bytes)"},)j"
          R"j({"index":2,"field":"features.abcdefghi","reason":"name is 9 bytes, limit 8 (--max_name_bytes)"},)j"
          R"j({"index":3,"field":"attributes","reason":"3 attributes, limit 2 (--max_attributes_per_event)"},)j"
          R"j({"index":4,"field":"probabilities","reason":"3 classes, limit 2 (--max_probabilities_per_event)"},)j"
          R"j({"index":5,"field":"prediction_id","reason":"8 bytes, limit 6 (--max_prediction_id_bytes)"}]})j"
          "\n"));
  for (const char* limit : {"features_per_event", "string_bytes", "name_bytes",
                            "attributes_per_event", "probabilities_per_event",
                            "prediction_id_bytes"}) {
    EXPECT_EQ(Limit(limit), 1) << limit;
  }
  EXPECT_EQ(Metric(R"(aims_agent_events_total{outcome="rejected"})"), 6);
  // And the agent goes on serving.
  EXPECT_EQ(Post("/v1/events", kGood).substr(0, 3), "200");
  const v1::WindowSummary s = StopAndCollect();
  EXPECT_EQ(s.operational().event_count(), accepted_);
  EXPECT_EQ(accepted_, 2u);
  EXPECT_EQ(Rejected(s, "features_per_event"), 1u);
  EXPECT_EQ(Rejected(s, "string_bytes"), 1u);
}

TEST_F(HostileInputTest, HttpHostileValuesHaveTheirDefinedOutcome) {
  // One window throughout (a still clock): labels meet their predictions in
  // the open window.
  const absl::Time now = absl::Now();
  FakeClock clock(now);
  AgentOptions o = Options();
  o.window = absl::Minutes(10);
  StartAgent(o, &clock);
  // NaN and infinities: JSON has no literal, so "NaN"/"Infinity" stand for
  // them. In a feature: taken, counted non-finite in data quality. In score,
  // latency, prediction, label or a probability: the event is refused.
  EXPECT_EQ(
      Post("/v1/events", R"([
        {"prediction":1,"features":{"x":"NaN"}},
        {"prediction":1,"features":{"x":"-Infinity"}},
        {"prediction":1,"features":{"x":2}},
        {"prediction":1,"score":"NaN"},
        {"prediction":1,"latency_ms":"Infinity"},
        {"prediction":"NaN"}])"),
      Normalized(
          "200 "
          R"({"accepted":3,"rejected":3,"errors":[)"
          R"({"index":3,"field":"score","reason":"must be a probability in [0, 1], got nan"},)"
          R"({"index":4,"field":"latency","reason":"must be finite and >= 0, got inf"},)"
          R"({"index":5,"field":"prediction","reason":"must be finite, got nan"}]})"
          "\n"));
  // A NaN literal or a number beyond a double is not JSON: in an array the
  // whole body is refused (nothing taken), naming the byte.
  EXPECT_EQ(Post("/v1/events", R"([{"prediction":1},{"score":NaN}])"),
            "400 {\"error\":\"body: not valid JSON at byte 27 (line 1, "
            "column 28): expected a JSON value, found 'N'\"}\n");
  EXPECT_EQ(Post("/v1/events", R"([{"prediction":1,"features":{"x":1e999}}])"),
            "400 {\"error\":\"body: not valid JSON at byte 33 (line 1, "
            "column 34): number 1e999 is beyond the range of a double\"}\n");
  // Truncated: in an array, the whole body (nothing taken); in JSON lines,
  // only the broken last line.
  EXPECT_EQ(Post("/v1/events", R"([{"prediction":1},{"prediction":)"),
            "400 {\"error\":\"body: not valid JSON at byte 32 (line 1, "
            "column 33): unexpected end of input (truncated?)\"}\n");
  EXPECT_EQ(
      Post("/v1/events", "{\"prediction\":1}\n{\"prediction\":1}\n{\"pre"),
      Normalized(
          "200 "
          R"({"accepted":2,"rejected":1,"errors":[)"
          R"j({"index":2,"field":"","reason":"not valid JSON at byte 39: unexpected end of input (truncated?)"}]})j"
          "\n"));
  // Wrong types: the event is refused naming the field; a string where a
  // feature had numbers is a category, counted as wrong_type.
  EXPECT_EQ(
      Post("/v1/events", R"([{"prediction":1,"score":"0.5"},
                             {"prediction":1,"features":{"x":[1]}},
                             {"prediction":1,"error":"no"},
                             {"prediction":1,"features":{"x":3}},
                             {"prediction":1,"features":{"x":"high"}}])"),
      Normalized(
          "200 "
          R"({"accepted":2,"rejected":3,"errors":[)"
          R"({"index":0,"field":"score","reason":"expected number, got string"},)"
          R"({"index":1,"field":"features.x","reason":"expected number, string, bool or null, got array"},)"
          R"({"index":2,"field":"error","reason":"expected bool, got string"}]})"
          "\n"));
  // Unknown fields: ignored, the event is taken, a warning says so.
  EXPECT_EQ(
      Post("/v1/events", R"([{"prediction":1,"colour":"red","featurez":{}}])"),
      Normalized(
          "200 "
          R"({"accepted":1,"rejected":0,"errors":[],"warnings":[)"
          R"j({"index":0,"field":"colour","reason":"unknown field, ignored (see docs/events.md)"},)j"
          R"j({"index":0,"field":"featurez","reason":"unknown field, ignored (see docs/events.md)"}]})j"
          "\n"));
  EXPECT_EQ(Metric("aims_agent_unknown_fields_total"), 2);
  // Timestamps far ahead or far back: refused; one an hour back is taken
  // into its own (event-time) window.
  const std::string answer =
      Post("/v1/events",
           absl::StrCat(R"([{"prediction":1,"timestamp":)",
                        absl::ToUnixSeconds(now + absl::Hours(2)),
                        R"(},{"prediction":1,"timestamp":)",
                        absl::ToUnixSeconds(now - absl::Hours(48)),
                        R"(},{"prediction":1,"timestamp":)",
                        absl::ToUnixSeconds(now - absl::Hours(1)), "}]"));
  EXPECT_NE(answer.find(R"("accepted":1,"rejected":2)"), std::string::npos)
      << answer;
  EXPECT_NE(answer.find("ahead of the agent's clock, limit 5m "
                        "(--max_clock_skew)"),
            std::string::npos)
      << answer;
  EXPECT_NE(answer.find("old by the agent's clock, limit 24h "
                        "(--max_event_age)"),
            std::string::npos)
      << answer;
  EXPECT_EQ(Limit("clock_skew"), 1);
  EXPECT_EQ(Limit("event_age"), 1);
  // Duplicated prediction ids: within a request the later one is refused;
  // across requests, an id still waiting for its label is refused too.
  EXPECT_EQ(
      Post(
          "/v1/events",
          R"([{"prediction_id":"p1","prediction":1},{"prediction_id":"p2","prediction":0},
               {"prediction_id":"p1","prediction":0}])"),
      Normalized(
          "200 "
          R"({"accepted":2,"rejected":1,"errors":[)"
          R"({"index":2,"field":"prediction_id","reason":"'p1' repeats the event at index 0 of this request; counted once"}]})"
          "\n"));
  EXPECT_EQ(
      Post("/v1/events", R"([{"prediction_id":"p2","prediction":1}])"),
      Normalized(
          "400 "
          R"({"accepted":0,"rejected":1,"errors":[)"
          R"({"index":0,"field":"prediction_id","reason":"'p2' was received before and waits for its label; counted once"}]})"
          "\n"));
  EXPECT_EQ(Metric(R"(aims_agent_duplicate_ids_total{item="event"})"), 2);
  // Labels: a repeat within a request is refused; across requests both are
  // forwarded and the collector's join counts the same value once.
  auto labels = http_->Post("/v1/labels",
                            R"([{"prediction_id":"p1","label":1},
                                {"prediction_id":"p1","label":0},
                                {"prediction_id":"p2","label":"NaN"}])",
                            "application/json");
  ASSERT_TRUE(labels);
  EXPECT_EQ(
      Normalized(absl::StrCat(labels->status, " ", labels->body)),
      Normalized(
          "200 "
          R"({"accepted":1,"rejected":2,"errors":[)"
          R"({"index":1,"field":"prediction_id","reason":"'p1' repeats the label at index 0 of this request; counted once"},)"
          R"({"index":2,"field":"label","reason":"must be finite, got nan"}]})"
          "\n"));
  labels = http_->Post("/v1/labels", R"([{"prediction_id":"p1","label":1}])",
                       "application/json");
  ASSERT_TRUE(labels);
  EXPECT_EQ(labels->status, 200);
  EXPECT_NE(labels->body.find(R"("accepted":1,"rejected":0)"),
            std::string::npos)
      << labels->body;
  EXPECT_EQ(Metric(R"(aims_agent_labels_total{outcome="forwarded"})"), 2);
  EXPECT_EQ(Metric(R"(aims_agent_duplicate_ids_total{item="label"})"), 1);
  clock.Advance(absl::Seconds(1));  // the window closes at Stop

  const v1::WindowSummary s = StopAndCollect(/*labels_matched=*/1);
  EXPECT_EQ(s.operational().event_count(), accepted_);
  EXPECT_EQ(accepted_, 3u + 2u + 2u + 1u + 1u + 2u);
  const v1::FeatureSummary* x = Feature(s, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->quality().non_finite(), 2u);
  EXPECT_EQ(x->quality().wrong_type(), 1u);
  EXPECT_EQ(x->n(), 2u);
  EXPECT_EQ(s.operational().labels_matched(), 1u);
  EXPECT_EQ(s.operational().labels_unmatched(), 0u);
  EXPECT_EQ(Rejected(s, "clock_skew"), 1u);
  EXPECT_EQ(Rejected(s, "event_age"), 1u);
  EXPECT_EQ(Rejected(s, "duplicate"), 2u);
  EXPECT_EQ(Rejected(s, "malformed"), 3u + 1u + 3u);
}

TEST_F(HostileInputTest, GrpcIntakeHasTheSameOutcomes) {
  AgentOptions o = Options();
  o.max_body_bytes = 64 << 10;
  o.intake.max_events_per_batch = 100;
  o.intake.event.max_features = 3;
  // One window throughout (a still clock): the label meets its prediction.
  FakeClock clock(absl::Now());
  o.window = absl::Minutes(10);
  StartAgent(o, &clock);
  auto submit = [&](const v1::SubmitEventsRequest& req,
                    v1::SubmitResponse* resp) {
    grpc::ClientContext ctx;
    grpc::Status s = intake_->SubmitEvents(&ctx, req, resp);
    if (s.ok()) accepted_ += resp->accepted();
    return s;
  };
  {
    // An empty batch is refused, saying so.
    v1::SubmitResponse empty_resp;
    const grpc::Status empty = submit(v1::SubmitEventsRequest(), &empty_resp);
    EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(empty.error_message(),
              "events: an empty batch; send at least one item");
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  v1::SubmitEventsRequest req;
  auto add = [&](const std::string& id) {
    v1::InferenceEvent* e = req.add_events();
    e->mutable_prediction()->set_class_label("1");
    e->set_prediction_id(id);
    return e;
  };
  (*add("")->mutable_features())["x"].set_number(nan);  // 0: taken
  add("")->set_score(nan);                              // 1: refused
  v1::InferenceEvent* wide = add("");                   // 2: refused
  for (const char* f : {"a", "b", "c", "d"}) {
    (*wide->mutable_features())[f].set_number(1);
  }
  v1::InferenceEvent* future = add("");  // 3: refused
  future->mutable_timestamp()->set_seconds(
      absl::ToUnixSeconds(absl::Now() + absl::Hours(3)));
  add("g1");                            // 4: taken
  add("g1");                            // 5: duplicate
  v1::InferenceEvent* newer = add("");  // 6: taken, a warning
  newer->GetReflection()->MutableUnknownFields(newer)->AddVarint(99, 7);
  v1::SubmitResponse resp;
  ASSERT_TRUE(submit(req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 3u);
  EXPECT_EQ(resp.rejected(), 4u);
  ASSERT_EQ(resp.errors_size(), 4);
  EXPECT_EQ(resp.errors(0).index(), 1u);
  EXPECT_EQ(resp.errors(0).field(), "score");
  EXPECT_EQ(resp.errors(1).index(), 2u);
  EXPECT_EQ(resp.errors(1).reason(),
            "4 features, limit 3 (--max_features_per_event)");
  EXPECT_EQ(resp.errors(2).index(), 3u);
  EXPECT_EQ(resp.errors(2).field(), "timestamp");
  EXPECT_NE(resp.errors(2).reason().find("(--max_clock_skew)"),
            std::string::npos);
  EXPECT_EQ(resp.errors(3).index(), 5u);
  EXPECT_EQ(resp.errors(3).field(), "prediction_id");
  ASSERT_EQ(resp.warnings_size(), 1);
  EXPECT_EQ(resp.warnings(0).index(), 6u);
  EXPECT_EQ(resp.warnings(0).field(), "#99");
  // Across calls: the id waits for its label.
  v1::SubmitEventsRequest again;
  again.add_events()->set_prediction_id("g1");
  ASSERT_TRUE(submit(again, &resp).ok());
  EXPECT_EQ(resp.accepted(), 0u);
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_TRUE(resp.errors(0).reason().find("waits for its label") !=
              std::string::npos);

  // Too many events in one call: refused whole, naming the flag.
  v1::SubmitEventsRequest many;
  for (int i = 0; i < 101; ++i) many.add_events();
  grpc::Status s = submit(many, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "events: 101 items, limit 100 (--max_events_per_batch)");
  EXPECT_EQ(Limit("events_per_batch"), 1);
  // A message over --max_body_bytes: refused whole, naming the flag.
  v1::SubmitEventsRequest big;
  (*big.add_events()->mutable_features())["x"].set_category(
      std::string(100 << 10, 'a'));
  s = submit(big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(),
            absl::StrCat("message: ", big.ByteSizeLong(),
                         " bytes, limit 65536 (--max_body_bytes)"));
  EXPECT_EQ(Limit("body_bytes"), 1);
  // Over twice the limit, gRPC refuses it before the intake sees it.
  v1::SubmitEventsRequest huge;
  (*huge.add_events()->mutable_features())["x"].set_category(
      std::string(200 << 10, 'a'));
  s = submit(huge, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_EQ(Limit("body_bytes"), 1);
  // Bytes that are not a protobuf message (a truncated body).
  grpc::GenericStub generic(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", agent_->grpc_port()),
                          grpc::InsecureChannelCredentials()));
  // Field 1 (events), 5 bytes long, of which 2 arrive.
  const std::string truncated(
      "\x0a\x05"
      "ab",
      4);
  grpc::Slice slice(truncated);
  grpc::ByteBuffer raw(&slice, 1);
  grpc::ClientContext raw_ctx;
  grpc::ByteBuffer raw_out;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status raw_status;
  generic.UnaryCall(&raw_ctx, "/aims.v1.AgentIntakeService/SubmitEvents",
                    grpc::StubOptions(), &raw, &raw_out, [&](grpc::Status st) {
                      std::lock_guard<std::mutex> lock(mu);
                      raw_status = st;
                      done = true;
                      cv.notify_all();
                    });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  }
  // gRPC refuses it before the intake runs (gRPC 1.51 answers
  // UNIMPLEMENTED to a request it cannot parse); nothing is taken.
  EXPECT_FALSE(raw_status.ok());

  // Labels over gRPC: NaN refused, a repeat in the call refused, the
  // collector joins the one taken.
  v1::SubmitLabelsRequest labels;
  for (double value : {1.0, 0.0, nan}) {
    v1::LabelEvent* l = labels.add_labels();
    l->set_prediction_id("g1");
    l->mutable_label()->set_number(value);
  }
  grpc::ClientContext label_ctx;
  ASSERT_TRUE(intake_->SubmitLabels(&label_ctx, labels, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  ASSERT_EQ(resp.errors_size(), 2);
  EXPECT_EQ(resp.errors(0).index(), 1u);
  EXPECT_EQ(resp.errors(0).field(), "prediction_id");
  EXPECT_EQ(resp.errors(1).index(), 2u);
  EXPECT_EQ(resp.errors(1).reason(), "must be finite, got nan");

  // Still serving, over both intakes.
  v1::SubmitEventsRequest good;
  good.add_events()->mutable_prediction()->set_class_label("0");
  ASSERT_TRUE(submit(good, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  EXPECT_EQ(Post("/v1/events", kGood).substr(0, 3), "200");
  clock.Advance(absl::Seconds(1));  // the window closes at Stop
  const v1::WindowSummary summary = StopAndCollect(/*labels_matched=*/1);
  EXPECT_EQ(summary.operational().event_count(), accepted_);
  EXPECT_EQ(accepted_, 5u);
  EXPECT_EQ(summary.operational().labels_matched(), 1u);
  const v1::FeatureSummary* x = Feature(summary, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->quality().non_finite(), 1u);
}

TEST_F(HostileInputTest, OverflowsFoldIntoOtherAndAreCounted) {
  AgentOptions o = Options();
  o.summary.max_groups_per_attribute = 3;
  o.summary.max_features = 2;
  o.summary.max_classes = 3;
  o.summary.max_attributes = 1;
  // Room for two waiting predictions of about 95 bytes each.
  o.join.max_pending_bytes = 200;
  o.reference_events = 20;
  o.max_categories_per_feature = 5;
  o.summary.slice_keys = {"zip"};
  o.summary.max_slice_values = 4;
  StartAgent(o);
  std::string body = "[";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(
        &body, i ? "," : "", R"({"prediction_id":"p)", i, R"(","prediction":")",
        i % 5, R"(","features":{"a":1,"c":"v)", i,
        R"(","z":2},"attributes":{"zip":"z)", i, R"(","other":"o"}})");
  }
  body += "]";
  const std::string answer = Post("/v1/events", body);
  ASSERT_EQ(answer.substr(0, 25), R"(200 {"accepted":20,"rejec)") << answer;
  // 20 zips, 2 kept + __other__: 18 folded. Features a, c kept; z and the
  // prediction (summarised as a feature) dropped 20 times each.
  EXPECT_EQ(Overflow("groups_per_attribute"), 18);
  EXPECT_EQ(Overflow("features_per_window"), 40);
  EXPECT_EQ(Overflow("attributes_per_window"), 20);
  // 20 predictions waiting, 2 kept: 18 not joinable here.
  EXPECT_EQ(Overflow("pending_prediction_bytes"), 18);
  // The first-events reference counts 5 categories of c; 15 values go to
  // its "other" bin.
  EXPECT_EQ(Overflow("categories_per_feature"), 15);
  // Slice key zip: 4 values kept, 16 folded into __other__.
  EXPECT_EQ(Overflow("slice_values"), 16);
  const v1::WindowSummary s = StopAndCollect();
  ASSERT_EQ(s.slices_size(), 1);
  ASSERT_EQ(s.slices(0).values_size(), 5);
  EXPECT_EQ(s.slices(0).values(0).value(), kOtherBucket);
  EXPECT_EQ(s.slices(0).values(0).summary().operational().event_count(), 16u);
  ASSERT_EQ(s.attributes_size(), 1);
  ASSERT_EQ(s.attributes(0).groups_size(), 3);
  EXPECT_EQ(s.attributes(0).groups(0).group(), kOtherBucket);
  EXPECT_EQ(s.attributes(0).groups(0).n(), 18u);
  EXPECT_EQ(s.features_size(), 2);
  EXPECT_EQ(Rejected(s, "feature_limit"), 20u + 20u);
  EXPECT_EQ(s.operational().labels_evicted(), 18u);
}

}  // namespace
}  // namespace aims::agent

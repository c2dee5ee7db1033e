// aims where SREs work: the collector's and an agent's /metrics pass
// `promtool check metrics`, and the real Prometheus (Debian `prometheus`,
// started on a free loopback port) scrapes both; the test asserts through
// Prometheus's HTTP API that the objective values, states and
// nonconformities are there with the right labels and values.
#include <unistd.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/agent.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "simdjson.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";

// Events of credit/v1/prod: group f selected at 0.3, m at 0.6, labelled
// with the prediction (accuracy 1), income spread over [shift, shift+100).
std::vector<Event> Events(double income_shift) {
  std::vector<Event> events;
  for (int i = 0; i < 400; ++i) {
    Event e;
    const bool f = i % 2 == 0;
    const int k = (i / 2) % 100;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = k < (f ? 30 : 60) ? "1" : "0";
    e.label = e.prediction;
    e.attributes = {{"gender", f ? "f" : "m"}};
    FeatureValue income;
    income.kind = FeatureValue::Kind::kNumber;
    income.number = income_shift + i % 100 + 0.5;
    e.features = {{"income", income}};
    events.push_back(e);
  }
  return events;
}

v1::ModelRef Credit() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

// Stores the reference profile of the unshifted events at the collector and
// sends one 10 s window of events with incomes shifted by 40 (drifted),
// binned on that profile as an agent would.
void SendWindow(int grpc_port) {
  ProfileBuilder builder({});
  for (const Event& e : Events(0)) builder.Add(e);
  absl::StatusOr<v1::ReferenceProfile> profile =
      builder.Build(Credit(), v1::PROFILE_SOURCE_TRAINING_DATA, "training");
  ASSERT_TRUE(profile.ok()) << profile.status();
  {
    auto stub = v1::QueryService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::PutProfileRequest request;
    *request.mutable_profile() = *profile;
    v1::PutProfileResponse response;
    ASSERT_TRUE(stub->PutProfile(&ctx, request, &response).ok());
  }
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<const v1::ReferenceProfile>(*profile);
  WindowAccumulator acc(config);
  for (const Event& e : Events(40)) acc.Add(e);
  ASSERT_TRUE(testing::SendWindowReport(grpc_port, Credit(), "pod-1", 1,
                                        absl::Now(), acc.Build()));
}

// `promtool check metrics` on the exposition at 127.0.0.1:port/metrics;
// returns promtool's exit code and its complaints.
int PromtoolCheck(const testing::TempDir& dir, int port, std::string* output) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    *output = "no /metrics";
    return -1;
  }
  const std::string file = dir.File(absl::StrCat("metrics-", port, ".txt"));
  std::ofstream(file) << res->body;
  std::string err;
  const int code = testing::RunCommand(
      {"/bin/sh", "-c", absl::StrCat(kPromtool, " check metrics < ", file)},
      output, &err);
  *output += err;
  return code;
}

// Instant query against Prometheus; returns "labels=value" lines sorted by
// Prometheus, or "" on any failure.
std::vector<std::string> Query(int port, const std::string& promql,
                               const std::vector<std::string>& label_keys) {
  httplib::Client client("127.0.0.1", port);
  httplib::Params params = {{"query", promql}};
  auto res = client.Post("/api/v1/query", params);
  std::vector<std::string> out;
  if (!res || res->status != 200) return out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(res->body).get(doc) != simdjson::SUCCESS) return out;
  simdjson::dom::array result;
  if (doc["data"]["result"].get(result) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element r : result) {
    std::string line;
    for (const std::string& key : label_keys) {
      std::string_view v;
      if (r["metric"][key].get(v) != simdjson::SUCCESS) v = "-";
      absl::StrAppend(&line, key, "=", std::string(v), ",");
    }
    std::string_view value;
    if (r["value"].at(1).get(value) != simdjson::SUCCESS) continue;
    absl::StrAppend(&line, std::string(value));
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PrometheusTest, ScrapesObjectiveValuesStatesAndNonconformities) {
  for (const char* bin : {kPrometheus, kPromtool}) {
    if (access(bin, X_OK) != 0) GTEST_FAIL() << bin << " missing";
  }
  testing::TempDir dir;
  {
    std::ofstream plan(dir.File("plan.yaml"));
    plan << R"(
coverage: {enabled: false}
defaults: {decision: point}
objectives:
  - id: gender-parity
    model: {name: credit}
    metric: demographic_parity_ratio
    attribute: gender
    comparator: ">="
    threshold: 0.8
    window: 5m
    severity: critical
  - id: selection-rate
    model: {name: credit}
    metric: selection_rate
    attribute: gender
    comparator: ">="
    threshold: 0.1
    window: 5m
  - id: accuracy
    model: {name: credit}
    metric: accuracy
    comparator: ">="
    threshold: 0.9
    window: 5m
  - id: income-drift
    model: {name: credit}
    metric: psi
    feature: income
    comparator: "<="
    threshold: 0.2
    window: 5m
)";
  }
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir.File("data");
  options.sync_writes = false;
  options.plan_file = dir.File("plan.yaml");
  options.evaluate_in_background = false;
  collector::Collector collector(options);
  ASSERT_TRUE(collector.Start().ok());
  SendWindow(collector.grpc_port());
  // parity, selection rate of f and m, accuracy, PSI of income.
  ASSERT_EQ(collector.EvaluateNow(), 5);

  agent::AgentOptions agent_options;
  agent_options.http_listen = "127.0.0.1:0";
  agent_options.collector = absl::StrCat("127.0.0.1:", collector.grpc_port());
  agent_options.data_dir = dir.File("agent");
  agent_options.model.set_name("credit");
  agent_options.model.set_version("v1");
  agent_options.model.set_environment("prod");
  agent::Agent agent(agent_options);
  ASSERT_TRUE(agent.Start().ok());

  // Both expositions follow Prometheus's conventions, and every family is
  // documented in docs/metrics.md.
  std::string complaints;
  EXPECT_EQ(PromtoolCheck(dir, collector.http_port(), &complaints), 0)
      << complaints;
  EXPECT_EQ(PromtoolCheck(dir, agent.http_port(), &complaints), 0)
      << complaints;
  const std::string docs =
      testing::ReadFile(absl::StrCat(AIMS_SOURCE_DIR, "/docs/metrics.md"));
  int families = 0;
  for (int port : {collector.http_port(), agent.http_port()}) {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res);
    for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
      if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
      const std::string name(line.substr(0, line.find(' ')));
      ++families;
      EXPECT_NE(docs.find(absl::StrCat("`", name, "`")), std::string::npos)
          << name << " is exported but not in docs/metrics.md";
    }
  }
  EXPECT_GE(families, 40);

  const int port = testing::FreePort();
  {
    std::ofstream config(dir.File("prometheus.yml"));
    config << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
              "scrape_configs:\n"
              "  - job_name: aims-collector\n"
              "    static_configs: [{targets: ['127.0.0.1:"
           << collector.http_port()
           << "']}]\n"
              "  - job_name: aims-agent\n"
              "    static_configs: [{targets: ['127.0.0.1:"
           << agent.http_port() << "']}]\n";
  }
  testing::Subprocess prometheus(
      {kPrometheus, "--config.file=" + dir.File("prometheus.yml"),
       "--storage.tsdb.path=" + dir.File("tsdb"),
       absl::StrCat("--web.listen-address=127.0.0.1:", port)},
      dir.File("prometheus.log"));
  const std::vector<std::string> up_expected = {"job=aims-agent,1",
                                                "job=aims-collector,1"};
  std::vector<std::string> up;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        up = Query(port, "up", {"job"});
        return up == up_expected;
      },
      absl::Seconds(60)))
      << testing::ReadFile(dir.File("prometheus.log"));

  // parity = 0.3 / 0.6 = 0.5 over 400 events, below 0.8: firing.
  EXPECT_EQ(Query(port, "aims_objective_value{attribute=\"gender\"}",
                  {"objective", "model", "model_version", "environment",
                   "metric", "attribute", "group"}),
            (std::vector<std::string>{
                "objective=gender-parity,model=credit,model_version=v1,"
                "environment=prod,metric=demographic_parity_ratio,attribute="
                "gender,group=-,0.5",
                "objective=selection-rate,model=credit,model_version=v1,"
                "environment=prod,metric=selection_rate,attribute=gender,"
                "group=f,0.3",
                "objective=selection-rate,model=credit,model_version=v1,"
                "environment=prod,metric=selection_rate,attribute=gender,"
                "group=m,0.6"}));
  EXPECT_EQ(Query(port, "aims_objective_threshold{objective=\"gender-parity\"}",
                  {"objective"}),
            (std::vector<std::string>{"objective=gender-parity,0.8"}));
  EXPECT_EQ(Query(port, "aims_objective_sample_size{group=\"f\"}", {"group"}),
            (std::vector<std::string>{"group=f,200"}));
  EXPECT_EQ(
      Query(port, "aims_objective_state == 1", {"objective", "state"}),
      (std::vector<std::string>{"objective=accuracy,state=inactive,1",
                                "objective=gender-parity,state=firing,1",
                                "objective=income-drift,state=firing,1",
                                "objective=selection-rate,state=inactive,1",
                                "objective=selection-rate,state=inactive,1"}));
  EXPECT_EQ(
      Query(port, "aims_objective_value{metric=\"accuracy\"}", {"objective"}),
      (std::vector<std::string>{"objective=accuracy,1"}));
  EXPECT_EQ(Query(port, "aims_objective_value{feature=\"income\"} > 0.2",
                  {"metric", "feature"})
                .size(),
            1u);
  // Wilson interval around the selection rate of f.
  EXPECT_EQ(Query(port, "aims_objective_ci_lower{group=\"f\"} < 0.3", {"group"})
                .size(),
            1u);
  EXPECT_EQ(Query(port, "aims_objective_ci_upper{group=\"f\"} > 0.3", {"group"})
                .size(),
            1u);
  EXPECT_EQ(Query(port, "aims_nonconformities{stage=\"open\"} > 0",
                  {"severity", "stage"}),
            (std::vector<std::string>{"severity=critical,stage=open,1",
                                      "severity=warning,stage=open,1"}));
  EXPECT_EQ(
      Query(port, "aims_collector_objective_series_not_exported", {"job"}),
      (std::vector<std::string>{"job=aims-collector,0"}));
  // The agent's own series are there too.
  EXPECT_FALSE(Query(port, "aims_agent_events_total", {"job"}).empty());

  // Every PromQL expression of the Grafana dashboards is accepted and
  // returns series for this data ($model set to the test's model).
  int expressions = 0;
  for (const char* name : {"fleet", "model", "nonconformities"}) {
    const std::string path =
        absl::StrCat(AIMS_SOURCE_DIR, "/deploy/grafana/", name, ".json");
    simdjson::dom::parser parser;
    simdjson::dom::element dashboard;
    ASSERT_EQ(parser.load(path).get(dashboard), simdjson::SUCCESS) << path;
    for (simdjson::dom::element panel : dashboard["panels"].get_array()) {
      for (simdjson::dom::element target : panel["targets"].get_array()) {
        std::string expr(target["expr"].get_string().value_unsafe());
        absl::StrReplaceAll({{"$model", "credit"}}, &expr);
        ++expressions;
        EXPECT_TRUE(testing::WaitFor(
            [&] { return !Query(port, expr, {}).empty(); }, absl::Seconds(30)))
            << name << ".json: " << expr;
      }
    }
  }
  EXPECT_GE(expressions, 20);
  agent.Stop();
}

}  // namespace
}  // namespace aims

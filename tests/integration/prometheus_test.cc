// aims where SREs work: the collector's and an agent's /metrics pass
// `promtool check metrics`, and the real Prometheus (Debian `prometheus`,
// started on a free loopback port) scrapes both; the test asserts through
// Prometheus's HTTP API that the objective values, states and
// nonconformities are there with the right labels and values.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/agent.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "collector/plan/metric_catalog.h"
#include "common/base/time_util.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "simdjson.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"
#include "yaml-cpp/yaml.h"

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
// A collector on free loopback ports with its data and dir/plan.yaml in
// `dir`, evaluating only when the test asks.
collector::CollectorOptions CollectorIn(const testing::TempDir& dir) {
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir.File("data");
  options.sync_writes = false;
  options.plan_file = dir.File("plan.yaml");
  options.evaluate_in_background = false;
  return options;
}

// An agent of credit/v1/prod reporting to the collector at `grpc_port`.
agent::AgentOptions AgentOf(const testing::TempDir& dir, int grpc_port) {
  agent::AgentOptions options;
  options.http_listen = "127.0.0.1:0";
  options.collector = absl::StrCat("127.0.0.1:", grpc_port);
  options.data_dir = dir.File("agent");
  options.model.set_name("credit");
  options.model.set_version("v1");
  options.model.set_environment("prod");
  return options;
}

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

// What one PromQL expression (or Grafana label_values() query) uses.
struct PromqlUse {
  // Series name -> the labels its selectors match on.
  std::map<std::string, std::set<std::string>> selectors;
  // Labels of by / without / on / ignoring / group_left / label_values.
  std::set<std::string> grouping;
  // Values of `metric` matchers (regular expressions for =~).
  std::vector<std::string> metric_matchers;
};

PromqlUse ParsePromql(const std::string& expr) {
  static const std::regex kSelector(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\})");
  static const std::regex kMatcher(
      R"re(([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)")re");
  static const std::regex kBare(R"(\b((aims|process)_[a-z0-9_]+|up)\b)");
  static const std::regex kGrouping(
      R"(\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\))");
  static const std::regex kLabelValues(R"(label_values\((.+),\s*(\w+)\))");
  PromqlUse use;
  std::string rest = expr;
  std::smatch m;
  if (std::regex_search(expr, m, kLabelValues)) {
    use.grouping.insert(m[2]);
    rest = m[1];
  }
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), kSelector);
       it != std::sregex_iterator(); ++it) {
    std::set<std::string>& labels = use.selectors[(*it)[1]];
    const std::string block = (*it)[2];
    for (auto mt = std::sregex_iterator(block.begin(), block.end(), kMatcher);
         mt != std::sregex_iterator(); ++mt) {
      labels.insert((*mt)[1]);
      if ((*mt)[1] == "metric") use.metric_matchers.push_back((*mt)[3]);
    }
  }
  // Names outside selectors; quoted values (job names) have no underscore
  // after "aims", so they do not match.
  const std::string unquoted =
      std::regex_replace(rest, std::regex(R"("[^"]*")"), "\"\"");
  for (auto it = std::sregex_iterator(unquoted.begin(), unquoted.end(), kBare);
       it != std::sregex_iterator(); ++it) {
    use.selectors[(*it)[1]];
  }
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), kGrouping);
       it != std::sregex_iterator(); ++it) {
    for (absl::string_view label :
         absl::StrSplit(std::string((*it)[2]), ',', absl::SkipWhitespace())) {
      use.grouping.insert(std::string(absl::StripAsciiWhitespace(label)));
    }
  }
  return use;
}

// Families of a text exposition: name -> labels seen on its series, with
// histogram and summary samples (_bucket, _sum, _count) under their family.
std::map<std::string, std::set<std::string>> ScrapeFamilies(
    const std::string& page) {
  std::map<std::string, std::set<std::string>> families;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      families[std::string(line.substr(0, line.find(' ')))];
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::string name(line.substr(0, line.find_first_of("{ ")));
    if (!families.count(name)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (absl::EndsWith(name, suffix)) {
          name.resize(name.size() - strlen(suffix));
          break;
        }
      }
    }
    const size_t brace = line.find('{');
    if (brace == absl::string_view::npos) continue;
    // name="value" pairs; values may hold escaped quotes.
    size_t i = brace + 1;
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find('=', i);
      families[name].insert(std::string(line.substr(i, eq - i)));
      i = eq + 2;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      i += 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
  return families;
}

// Status and number of series of an instant query; error text on failure.
struct QueryAnswer {
  bool ok = false;
  size_t series = 0;
  std::string error;
};

QueryAnswer Ask(int port, const std::string& promql) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Post("/api/v1/query", httplib::Params{{"query", promql}});
  QueryAnswer answer;
  if (!res) return {false, 0, "no answer"};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(res->body).get(doc) != simdjson::SUCCESS) {
    return {false, 0, res->body};
  }
  std::string_view status;
  answer.ok =
      doc["status"].get(status) == simdjson::SUCCESS && status == "success";
  simdjson::dom::array result;
  if (doc["data"]["result"].get(result) == simdjson::SUCCESS) {
    answer.series = result.size();
  }
  if (!answer.ok) answer.error = res->body;
  return answer;
}

struct Expression {
  std::string where;  // "model.json: Drift per feature" or a rule's name
  std::string expr;
};

// Every target and template query of a dashboard, and its panels' units.
void ReadDashboard(const std::string& name, std::vector<Expression>* targets,
                   std::vector<Expression>* variables,
                   std::vector<std::string>* unitless) {
  const std::string path =
      absl::StrCat(AIMS_SOURCE_DIR, "/deploy/grafana/", name, ".json");
  simdjson::dom::parser parser;
  simdjson::dom::element dashboard;
  ASSERT_EQ(parser.load(path).get(dashboard), simdjson::SUCCESS) << path;
  for (simdjson::dom::element panel : dashboard["panels"].get_array()) {
    const std::string where = absl::StrCat(
        name,
        ".json: ", std::string(panel["title"].get_string().value_unsafe()));
    std::string_view unit;
    if (panel["fieldConfig"]["defaults"]["unit"].get(unit) !=
            simdjson::SUCCESS ||
        unit.empty()) {
      unitless->push_back(where);
    }
    for (simdjson::dom::element target : panel["targets"].get_array()) {
      targets->push_back(
          {where, std::string(target["expr"].get_string().value_unsafe())});
    }
  }
  for (simdjson::dom::element v : dashboard["templating"]["list"].get_array()) {
    std::string_view query;
    if (v["definition"].get(query) == simdjson::SUCCESS) {
      variables->push_back(
          {absl::StrCat(name, ".json: $",
                        std::string(v["name"].get_string().value_unsafe())),
           std::string(query)});
    }
  }
}

// The alerting rules' expressions (deploy/prometheus/aims-rules.yml).
std::vector<Expression> RuleExpressions() {
  std::vector<Expression> out;
  const YAML::Node rules = YAML::LoadFile(
      absl::StrCat(AIMS_SOURCE_DIR, "/deploy/prometheus/aims-rules.yml"));
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      out.push_back(
          {rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    }
  }
  return out;
}

std::string Substitute(std::string expr) {
  absl::StrReplaceAll(
      {{"$model", "credit"}, {"$version", "v1"}, {"$environment", "prod"}},
      &expr);
  return expr;
}

// Series exported by running binaries: name -> labels, and every label.
struct Exported {
  std::map<std::string, std::set<std::string>> families = {{"up", {}}};
  std::set<std::string> labels = {"job", "instance"};  // target labels
};

Exported Scrape(const std::vector<int>& http_ports) {
  Exported out;
  for (int http_port : http_ports) {
    auto page = httplib::Client("127.0.0.1", http_port).Get("/metrics");
    EXPECT_TRUE(page && page->status == 200) << http_port;
    if (!page) continue;
    for (auto& [name, labels] : ScrapeFamilies(page->body)) {
      out.families[name].insert(labels.begin(), labels.end());
      out.labels.insert(labels.begin(), labels.end());
    }
  }
  return out;
}

// Each series name, selector label and grouping label of `expressions` is
// exported; each objective metric they name is in the catalogue, and each
// metric of the catalogue is named on some panel of model.json.
void CheckNamesAndLabels(const std::vector<Expression>& expressions,
                         const Exported& exported) {
  const std::vector<std::string> catalogue = collector::MetricNames();
  std::set<std::string> named_on_model;
  for (const Expression& e : expressions) {
    const PromqlUse use = ParsePromql(e.expr);
    EXPECT_FALSE(use.selectors.empty()) << e.where << ": " << e.expr;
    for (const auto& [name, labels] : use.selectors) {
      auto family = exported.families.find(name);
      if (family == exported.families.end()) {
        ADD_FAILURE() << e.where << ": " << name << " is not exported";
        continue;
      }
      for (const std::string& label : labels) {
        EXPECT_TRUE(family->second.count(label) || label == "job" ||
                    label == "instance")
            << e.where << ": " << name << " has no label " << label;
      }
    }
    for (const std::string& label : use.grouping) {
      EXPECT_TRUE(exported.labels.count(label))
          << e.where << ": no series has " << label;
    }
    for (const std::string& matcher : use.metric_matchers) {
      for (absl::string_view alternative : absl::StrSplit(matcher, '|')) {
        const std::regex re{std::string(alternative)};
        bool known = false;
        for (const std::string& metric : catalogue) {
          if (!std::regex_match(metric, re)) continue;
          known = true;
          if (absl::StartsWith(e.where, "model.json")) {
            named_on_model.insert(metric);
          }
        }
        EXPECT_TRUE(known)
            << e.where << ": metric \"" << alternative
            << "\" is no metric of collector/plan/metric_catalog.cc";
      }
    }
  }
  for (const std::string& metric : catalogue) {
    EXPECT_TRUE(named_on_model.count(metric))
        << metric << " is on no panel of model.json";
  }
}

// In the Prometheus at `port`: every query runs, every panel shows data,
// every template variable has values, every rule expression runs.
void ExpectQueriesRun(int port, const std::vector<Expression>& targets,
                      const std::vector<Expression>& variables,
                      const std::vector<Expression>& rules) {
  std::map<std::string, size_t> panel_series;
  for (const Expression& e : targets) {
    const QueryAnswer answer = Ask(port, Substitute(e.expr));
    EXPECT_TRUE(answer.ok) << e.where << ": " << e.expr << ": " << answer.error;
    panel_series[e.where] += answer.series;
  }
  for (const auto& [panel, series] : panel_series) {
    EXPECT_GT(series, 0u) << panel << " shows nothing";
  }
  static const std::regex kLabelValues(R"(label_values\((.+),\s*(\w+)\))");
  for (const Expression& e : variables) {
    std::smatch m;
    const std::string query = Substitute(e.expr);
    if (!std::regex_search(query, m, kLabelValues)) {
      ADD_FAILURE() << e.where << ": not label_values(): " << e.expr;
      continue;
    }
    const QueryAnswer answer =
        Ask(port, absl::StrCat("group by (", std::string(m[2]), ") (",
                               std::string(m[1]), ")"));
    EXPECT_TRUE(answer.ok && answer.series > 0) << e.where << ": " << e.expr;
  }
  for (const Expression& e : rules) {
    const QueryAnswer answer = Ask(port, e.expr);
    EXPECT_TRUE(answer.ok) << e.where << ": " << answer.error;
  }
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
  collector::Collector collector(CollectorIn(dir));
  ASSERT_TRUE(collector.Start().ok());
  SendWindow(collector.grpc_port());
  // parity, selection rate of f and m, accuracy, PSI of income.
  ASSERT_EQ(collector.EvaluateNow(), 5);

  agent::Agent agent(AgentOf(dir, collector.grpc_port()));
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

  // Both binaries say which build runs and export the process_* series of
  // the other client libraries; the agent's series carry its model.
  EXPECT_EQ(Query(port,
                  "count by (job) (aims_build_info{version=~\"[0-9]+[.][0-9]+"
                  "[.][0-9]+\", revision!=\"\"} == 1)",
                  {"job"}),
            up_expected);
  for (const char* check :
       {"process_resident_memory_bytes > 1e6",
        "process_virtual_memory_bytes >= process_resident_memory_bytes",
        "process_open_fds > 3 and process_open_fds <= process_max_fds",
        "process_cpu_seconds_total > 0",
        "time() - process_start_time_seconds < 600 and time() >= "
        "process_start_time_seconds"}) {
    EXPECT_EQ(
        Query(port, absl::StrCat("count by (job) (", check, ")"), {"job"}),
        up_expected)
        << check;
  }
  EXPECT_EQ(Query(port, "aims_agent_connected * 0",
                  {"job", "model", "model_version", "environment"}),
            (std::vector<std::string>{
                "job=aims-agent,model=credit,model_version=v1,environment="
                "prod,0"}));
  agent.Stop();
}

// Every dashboard query and rule expression uses series and labels that a
// running collector and agent export: names, the labels of selectors and of
// by()/on(), and the objective metrics they name (a wrong name inside
// metric=~"a|b" matches nothing and no query fails). The real Prometheus
// then runs every query: no error, and data on every panel.
TEST(PrometheusTest, DashboardsAndRulesUseExportedSeries) {
  if (access(kPrometheus, X_OK) != 0) GTEST_FAIL() << kPrometheus << " missing";
  testing::TempDir dir;
  // An objective behind every panel of model.json; coverage objectives on.
  std::ofstream(dir.File("plan.yaml")) << R"(
defaults: {decision: point, window: 5m, model: {name: credit}}
objectives:
  - {id: accuracy, metric: accuracy, comparator: ">=", threshold: 0.9}
  - {id: log-loss, metric: log_loss, comparator: "<=", threshold: 1}
  - {id: income-drift, metric: psi, feature: income, comparator: "<=", threshold: 0.2}
  - {id: drift-share, metric: drifted_feature_share, comparator: "<=", threshold: 0.5}
  - {id: selection-rate, metric: selection_rate, attribute: gender, comparator: ">=", threshold: 0.1}
  - {id: gender-parity, metric: demographic_parity_ratio, attribute: gender, comparator: ">=", threshold: 0.8}
  - {id: latency, metric: latency_p99, comparator: "<=", threshold: 1}
  - {id: throughput, metric: throughput, comparator: ">=", threshold: 0}
  - {id: labels, metric: labels_matched, comparator: ">=", threshold: 0}
  - {id: label-coverage, metric: label_coverage, comparator: ">=", threshold: 0}
  - {id: label-delay, metric: label_delay_p90_seconds, comparator: "<=", threshold: 86400}
  - {id: inputs-present, metric: missing_rate, comparator: "<=", threshold: 0.5}
)";
  collector::Collector collector(CollectorIn(dir));
  ASSERT_TRUE(collector.Start().ok());
  SendWindow(collector.grpc_port());
  ASSERT_GT(collector.EvaluateNow(), 0);

  agent::Agent agent(AgentOf(dir, collector.grpc_port()));
  ASSERT_TRUE(agent.Start().ok());
  httplib::Client intake("127.0.0.1", agent.http_port());
  auto sent = intake.Post(
      "/v1/events",
      R"([{"prediction_id": "p-1", "features": {"income": 10}, "prediction": 1,)"
      R"( "attributes": {"gender": "f"}, "latency_ms": 12.5},)"
      R"( {"features": {"income": 20}, "prediction": 0, "label": 0}])",
      "application/json");
  ASSERT_TRUE(sent && sent->status == 200) << (sent ? sent->body : "no answer");

  std::vector<Expression> targets, variables;
  std::vector<std::string> unitless;
  for (const char* name : {"fleet", "model", "nonconformities"}) {
    ReadDashboard(name, &targets, &variables, &unitless);
  }
  EXPECT_THAT(unitless, ::testing::IsEmpty()) << "panels without a unit";
  const std::vector<Expression> rules = RuleExpressions();
  EXPECT_GE(rules.size(), 10u);
  std::vector<Expression> all = targets;
  all.insert(all.end(), variables.begin(), variables.end());
  all.insert(all.end(), rules.begin(), rules.end());
  CheckNamesAndLabels(all, Scrape({collector.http_port(), agent.http_port()}));

  const int port = testing::FreePort();
  std::ofstream(dir.File("prometheus.yml"))
      << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
         "scrape_configs:\n"
         "  - job_name: aims-collector\n"
         "    static_configs: [{targets: ['127.0.0.1:"
      << collector.http_port()
      << "']}]\n"
         "  - job_name: aims-agent\n"
         "    static_configs: [{targets: ['127.0.0.1:"
      << agent.http_port() << "']}]\n";
  testing::Subprocess prometheus(
      {kPrometheus, "--config.file=" + dir.File("prometheus.yml"),
       "--storage.tsdb.path=" + dir.File("tsdb"),
       absl::StrCat("--web.listen-address=127.0.0.1:", port)},
      dir.File("prometheus.log"));
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Ask(port, "sum(up) == 2").series == 1; }, absl::Seconds(60)))
      << testing::ReadFile(dir.File("prometheus.log"));
  // Two scrapes at least, for rate().
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Ask(port, "count_over_time(up[1m]) >= 3").series == 2; },
      absl::Seconds(30)));

  ExpectQueriesRun(port, targets, variables, rules);
  agent.Stop();
}

}  // namespace
}  // namespace aims

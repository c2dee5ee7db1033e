#include "ctl/ctl.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "aims/v1/ingest.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/collector/compliance/audit_tamper.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

namespace aims::ctl {
namespace {

// Sends one 10 s window report (sequence 1, a minute ago) of agent "pod-a"
// for credit/v2/`environment` over real gRPC and waits for its ack.
void SendReport(const std::string& address, const std::string& environment,
                const v1::WindowSummary& summary, const std::string& pod = "") {
  v1::ModelRef model;
  model.set_name("credit");
  model.set_version("v2");
  model.set_environment(environment);
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  ASSERT_TRUE(testing::SendWindowReport(
      port, model, "pod-a", 1, absl::Now() - absl::Seconds(50), summary, pod));
}

TEST(CtlTest, UsageErrorsExitTwo) {
  CtlOptions options;
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand({}, options, out, err), 2);
  EXPECT_NE(err.str().find("no command"), std::string::npos);
  EXPECT_EQ(RunCommand({"frobnicate"}, options, out, err), 2);
  EXPECT_NE(err.str().find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_EQ(RunCommand({"windows"}, options, out, err), 2);
  EXPECT_NE(err.str().find("--model and --version are required"),
            std::string::npos);
}

TEST(CtlTest, UnreachableCollectorExitsOne) {
  CtlOptions options;
  options.collector = "127.0.0.1:1";  // nothing listens on port 1
  options.timeout = absl::Seconds(2);
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand({"models"}, options, out, err), 1);
  EXPECT_NE(err.str().find("collector 127.0.0.1:1"), std::string::npos);
}

TEST(CtlTest, ListsModelsAndAgentsAsTableAndJson) {
  testing::TempDir dir;
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  collector::Collector collector(co);
  ASSERT_TRUE(collector.Start().ok());
  const std::string address = absl::StrCat("127.0.0.1:", collector.grpc_port());
  {
    v1::WindowSummary summary;
    summary.mutable_operational()->set_event_count(42);
    SendReport(address, "prod", summary, "credit-7f9c");
  }
  CtlOptions options;
  options.collector = address;
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({"models"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("credit  v2       prod         1       1        42"),
            std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"agents"}, options, out, err), 0);
  EXPECT_NE(out.str().find("pod-a"), std::string::npos);
  EXPECT_NE(out.str().find("credit/v2/prod"), std::string::npos);
  EXPECT_NE(out.str().find("credit-7f9c"), std::string::npos);
  out.str("");
  options.json = true;
  ASSERT_EQ(RunCommand({"agents"}, options, out, err), 0);
  EXPECT_NE(out.str().find("\"agent_id\":\"pod-a\""), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"event_count\":\"42\""), std::string::npos)
      << out.str();
  out.str("");
  options.json = false;
  options.model = "credit";
  options.version = "v2";
  options.environment = "prod";
  options.step = absl::Minutes(5);
  ASSERT_EQ(RunCommand({"windows"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("  1        42 "), std::string::npos) << out.str();
}

TEST(CtlTest, ProfileBuildPutShowFromCsv) {
  testing::TempDir dir;
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  collector::Collector collector(co);
  ASSERT_TRUE(collector.Start().ok());
  {
    std::ofstream csv(dir.File("train.csv"));
    csv << "id,income,region,gender,score,label\n";
    for (int i = 0; i < 200; ++i) {
      csv << i << "," << 1000 + 10 * i << ","
          << (i % 3 ? "north" : "\"south, coast\"") << ","
          << (i % 2 ? "f" : "m") << "," << (i % 100) / 100.0 << ","
          << (i % 5 == 0) << "\n";
    }
  }
  CtlOptions options;
  options.collector = absl::StrCat("127.0.0.1:", collector.grpc_port());
  options.input = dir.File("train.csv");
  options.model = "credit";
  options.version = "v7";
  options.sensitive = {"gender"};
  options.ignore = {"id"};
  options.output = dir.File("profile.json");
  options.put = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({"profile", "build"}, options, out, err), 0)
      << err.str();
  EXPECT_NE(out.str().find("stored profile "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("(200 rows, 3 features)"), std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"profile", "show"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("PROFILE_SOURCE_TRAINING_DATA, 200 rows"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("income          numeric      12"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("region          categorical  3"), std::string::npos)
      << out.str();
  // The same file stored again gives the same id.
  out.str("");
  ASSERT_EQ(RunCommand({"profile", "put", dir.File("profile.json")}, options,
                       out, err),
            0)
      << err.str();
  // A bad score names the line and column.
  {
    std::ofstream csv(dir.File("bad.csv"));
    csv << "income,score\n1,0.5\n2,1.7\n";
  }
  options.input = dir.File("bad.csv");
  options.put = false;
  options.sensitive.clear();
  EXPECT_EQ(RunCommand({"profile", "build"}, options, out, err), 2);
  EXPECT_NE(
      err.str().find(
          "line 3: column score: score must be a number in [0, 1], got '1.7'"),
      std::string::npos)
      << err.str();
  options.model = "nothing";
  EXPECT_EQ(RunCommand({"profile", "show"}, options, out, err), 1);
  EXPECT_NE(err.str().find("no profile for nothing/v7"), std::string::npos)
      << err.str();
}

TEST(CtlTest, MetricsFromMergedSummaries) {
  testing::TempDir dir;
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  collector::Collector collector(co);
  ASSERT_TRUE(collector.Start().ok());
  const std::string address = absl::StrCat("127.0.0.1:", collector.grpc_port());
  // 200 labelled events: group m selected 60 of 100, group f 30 of 100;
  // 20 predictions wrong, so accuracy is 0.9 and the parity ratio 0.5.
  auto config = std::make_shared<SummaryConfig>();
  WindowAccumulator accumulator(config);
  for (int i = 0; i < 200; ++i) {
    Event e;
    const bool male = i < 100;
    const int k = i % 100;
    const bool positive = male ? k < 60 : k < 30;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = positive ? "1" : "0";
    e.label.kind = Outcome::Kind::kClass;
    const bool wrong = k >= 90;
    e.label.class_label = (positive != wrong) ? "1" : "0";
    e.attributes = {{"gender", male ? "m" : "f"}};
    accumulator.Add(e);
  }
  SendReport(address, "default", accumulator.Build());
  CtlOptions options;
  options.collector = address;
  options.model = "credit";
  options.version = "v2";
  options.step = absl::Hours(1);
  options.metrics = {"accuracy", "demographic_parity_ratio", "selection_rate"};
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({"metrics"}, options, out, err), 0) << err.str();
  const std::string table = out.str();
  EXPECT_NE(table.find("START"), std::string::npos) << table;
  EXPECT_NE(table.find("accuracy"), std::string::npos) << table;
  EXPECT_NE(table.find(" 0.9 "), std::string::npos) << table;
  EXPECT_NE(table.find("demographic_parity_ratio"), std::string::npos) << table;
  EXPECT_NE(table.find(" 0.5 "), std::string::npos) << table;
  EXPECT_NE(table.find("gender=m"), std::string::npos) << table;
  EXPECT_NE(table.find(" 0.6 "), std::string::npos) << table;
  EXPECT_EQ(table.find("precision"), std::string::npos) << "filter ignored:\n"
                                                        << table;
  out.str("");
  options.json = true;
  options.metrics = {"accuracy"};
  ASSERT_EQ(RunCommand({"metrics"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("\"metric\":\"accuracy\""), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"value\":0.9"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("\"sample_size\":\"200\""), std::string::npos)
      << out.str();
}

// A collector whose plan wants accuracy >= 0.95 for credit/v2/default, fed
// one window of accuracy 0.9 and evaluated once: NC-000001 is open.
std::unique_ptr<collector::Collector> StartWithFailingAccuracy(
    const testing::TempDir& dir) {
  {
    std::ofstream plan(dir.File("plan.yaml"));
    plan << "coverage: {enabled: false}\nobjectives:\n"
            "  - {id: acc, metric: accuracy, comparator: '>=', threshold: "
            "0.95, window: 1h}\n";
  }
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  co.plan_file = dir.File("plan.yaml");
  co.evaluate_in_background = false;
  auto collector = std::make_unique<collector::Collector>(co);
  EXPECT_TRUE(collector->Start().ok());
  WindowAccumulator accumulator(std::make_shared<SummaryConfig>());
  for (int i = 0; i < 100; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = "1";
    e.label.kind = Outcome::Kind::kClass;
    e.label.class_label = i < 90 ? "1" : "0";  // accuracy 0.9 < 0.95
    accumulator.Add(e);
  }
  SendReport(absl::StrCat("127.0.0.1:", collector->grpc_port()), "default",
             accumulator.Build());
  EXPECT_EQ(collector->EvaluateNow(), 1);
  return collector;
}

TEST(CtlTest, NonconformityLifecycleAndAuditCommands) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string address =
      absl::StrCat("127.0.0.1:", collector->grpc_port());
  CtlOptions options;
  options.collector = address;
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({"objectives"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("acc        credit/v2/default  firing  0.9    100"),
            std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "list"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("NC-000001"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("open"), std::string::npos) << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "show", "NC-000001"}, options, out, err), 0)
      << err.str();
  EXPECT_NE(
      out.str().find("evidence:     accuracy = 0.9 (must be >= 0.95), n = 100"),
      std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("reports:      pod-a/1"), std::string::npos)
      << out.str();
  // Steps out of order are refused with the next allowed step.
  options.actor = "ana";
  options.comment = "retrained";
  EXPECT_EQ(RunCommand({"nc", "act", "NC-000001"}, options, out, err), 1);
  EXPECT_NE(err.str().find("NC-000001 is open; the next step is 'ack'"),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "ack", "NC-000001"}, options, out, err), 0)
      << err.str();
  EXPECT_EQ(out.str(), "NC-000001 is now acknowledged (by ana)\n");
  options.stages = {"acknowledged"};
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "list"}, options, out, err), 0);
  EXPECT_NE(out.str().find("NC-000001"), std::string::npos);
  options.stages = {"closed"};
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "list"}, options, out, err), 0);
  EXPECT_EQ(out.str().find("NC-000001"), std::string::npos);
  options.stages = {"done"};
  EXPECT_EQ(RunCommand({"nc", "list"}, options, out, err), 2);
  out.str("");
  ASSERT_EQ(RunCommand({"audit", "verify"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("audit trail intact: "), std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"audit", "list"}, options, out, err), 0) << err.str();
  for (const char* kind : {"plan_version", "agent_connect", "objective_state",
                           "nc_opened", "nc_transition"}) {
    EXPECT_NE(out.str().find(kind), std::string::npos) << kind << "\n"
                                                       << out.str();
  }
  out.str("");
  ASSERT_EQ(RunCommand({"plan", "reload"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("1 objectives, 1 unchanged"), std::string::npos)
      << out.str();
}

TEST(CtlTest, ReportRendersThePeriodInEveryFormat) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  CtlOptions options;
  options.collector = absl::StrCat("127.0.0.1:", collector->grpc_port());
  options.actor = "ana";
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({"nc", "ack", "NC-000001"}, options, out, err), 0)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({"report"}, options, out, err), 0) << err.str();
  const std::string md = out.str();
  EXPECT_NE(md.find("- **Audit trail:** intact (hash chain verified over "),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| acc | credit/v2/default | "), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | firing | 0.9 | NC-000001 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| NC-000001 | warning | acc | credit/v2/default | "),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| acknowledged | - | analyse the cause (nc analyse) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Nonconformities acknowledged | 1 |"), std::string::npos)
      << md;

  options.format = "csv";
  options.table = "open";
  out.str("");
  ASSERT_EQ(RunCommand({"report"}, options, out, err), 0) << err.str();
  const std::string csv = out.str();
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2) << csv;
  EXPECT_EQ(csv.find("NC-000001,warning,acc,credit/v2/default,"),
            csv.find('\n') + 1)
      << csv;

  options.format = "html";
  options.output = dir.File("report.html");
  out.str("");
  ASSERT_EQ(RunCommand({"report"}, options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("wrote " + options.output), std::string::npos);
  EXPECT_NE(testing::ReadFile(options.output).find("<td>NC-000001</td>"),
            std::string::npos);

  // A period before anything happened has no nonconformities.
  options.output.clear();
  options.format = "markdown";
  options.from = "2020-01-01";
  options.to = "2020-01-02T00:00:00Z";
  out.str("");
  ASSERT_EQ(RunCommand({"report"}, options, out, err), 0) << err.str();
  EXPECT_EQ(out.str().find("NC-000001"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("| Objective series | 1 |"), std::string::npos);
  EXPECT_NE(out.str().find("| acc | credit/v2/default | 0.0 | 0.0 | 0.0 | "
                           "0.0 | 100.0 | 0 | unevaluated | - | - |"),
            std::string::npos)
      << out.str();

  // The same report as JSON over HTTP, for scripts.
  httplib::Client http("127.0.0.1", collector->http_port());
  auto res = http.Get("/v1/report?name=credit");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"open_items\":[{\"id\":\"NC-000001\""),
            std::string::npos)
      << res->body;
  res = http.Get("/v1/report?bucket=5s");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("bucket: 5s is shorter than the minimum of 1m"),
            std::string::npos)
      << res->body;

  // Usage errors name the flag; the collector's refusal names the field.
  options.format = "pdf";
  EXPECT_EQ(RunCommand({"report"}, options, out, err), 2);
  EXPECT_NE(err.str().find("--format: 'pdf' is not markdown, html or csv"),
            std::string::npos);
  options.format = "markdown";
  options.from = "last tuesday";
  EXPECT_EQ(RunCommand({"report"}, options, out, err), 2);
  EXPECT_NE(err.str().find("--from: 'last tuesday' is not RFC 3339"),
            std::string::npos);
  options.from = "2020-01-03";
  err.str("");
  EXPECT_EQ(RunCommand({"report"}, options, out, err), 1);
  EXPECT_NE(err.str().find("from: 2020-01-03T00:00:00.000Z is not before to: "
                           "2020-01-02T00:00:00.000Z"),
            std::string::npos)
      << err.str();
}

TEST(CtlTest, NcFiltersJsonPlanCommandsAndBrokenAudit) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  CtlOptions options;
  options.collector = absl::StrCat("127.0.0.1:", collector->grpc_port());
  std::ostringstream out, err;
  // Filters: NC-000001 is a warning without owner, opened just now.
  auto listed = [&](CtlOptions o) {
    out.str("");
    EXPECT_EQ(RunCommand({"nc", "list"}, o, out, err), 0) << err.str();
    return out.str().find("NC-000001") != std::string::npos;
  };
  CtlOptions o = options;
  o.severity = "warning";
  EXPECT_TRUE(listed(o));
  o.severity = "critical";
  EXPECT_FALSE(listed(o));
  o.severity = "";
  o.owner = "nobody@example.com";
  EXPECT_FALSE(listed(o));
  o.owner = "";
  o.from = "2020-01-01";
  EXPECT_TRUE(listed(o));
  o.from = "2999-01-01";
  EXPECT_FALSE(listed(o));
  o.model = "fraud";
  o.from = "";
  EXPECT_FALSE(listed(o));
  o.model = "credit";
  o.objective = "acc";
  EXPECT_TRUE(listed(o));
  o = options;
  o.severity = "urgent";
  EXPECT_EQ(RunCommand({"nc", "list"}, o, out, err), 2);
  EXPECT_NE(err.str().find(
                "--severity: 'urgent' is not one of info, warning, critical"),
            std::string::npos);

  // --json answers are proto3 JSON.
  o = options;
  o.json = true;
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "list"}, o, out, err), 0);
  EXPECT_NE(out.str().find(R"("id":"NC-000001")"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(R"("stage":"NONCONFORMITY_STAGE_OPEN")"),
            std::string::npos);
  out.str("");
  ASSERT_EQ(RunCommand({"nc", "show", "NC-000001"}, o, out, err), 0);
  EXPECT_NE(out.str().find(R"("metric":"accuracy")"), std::string::npos)
      << out.str();

  // plan validate: valid, and an error naming file, line, column and field.
  out.str("");
  ASSERT_EQ(RunCommand({"plan", "validate", dir.File("plan.yaml")}, options,
                       out, err),
            0)
      << err.str();
  EXPECT_NE(out.str().find("valid, version "), std::string::npos);
  EXPECT_NE(out.str().find("acc  accuracy"), std::string::npos) << out.str();
  {
    std::ofstream bad(dir.File("bad.yaml"));
    bad << "objectives:\n  - id: acc\n    metric: accurracy\n";
  }
  err.str("");
  EXPECT_EQ(
      RunCommand({"plan", "validate", dir.File("bad.yaml")}, options, out, err),
      2);
  EXPECT_NE(err.str().find("bad.yaml:3:13: objectives[0].metric: "),
            std::string::npos)
      << err.str();

  // A reload of a broken plan file is refused and the plan in force stays.
  {
    std::ofstream plan(dir.File("plan.yaml"), std::ios::trunc);
    plan << "objectives:\n  - id: acc\n    metric: accurracy\n";
  }
  err.str("");
  EXPECT_EQ(RunCommand({"plan", "reload"}, options, out, err), 1);
  EXPECT_NE(err.str().find("plan.yaml:3:13: objectives[0].metric: "),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({"objectives"}, options, out, err), 0);
  EXPECT_NE(out.str().find("acc "), std::string::npos) << out.str();

  // The audit trail edited on disk: verify names the record, exit code 3.
  out.str("");
  ASSERT_EQ(RunCommand({"audit", "verify"}, options, out, err), 0);
  collector->Stop();
  ASSERT_TRUE(
      collector::TamperWithAuditRecord(dir.File("data"), 2, "mallory").ok());
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  co.evaluate_in_background = false;
  collector::Collector restarted(co);
  ASSERT_TRUE(restarted.Start().ok());
  options.collector = absl::StrCat("127.0.0.1:", restarted.grpc_port());
  out.str("");
  EXPECT_EQ(RunCommand({"audit", "verify"}, options, out, err), 3);
  EXPECT_EQ(out.str(),
            "audit trail BROKEN at record 2: content does not match its hash "
            "(record edited) (1 records before it verified)\n");
}

}  // namespace
}  // namespace aims::ctl

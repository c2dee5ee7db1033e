#include "ctl/ctl.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/hash.h"
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

// `aimsctl args...` in-process, with an empty environment.
int RunCommand(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err) {
  return RunCommandLine(args, Environment(), out, err);
}

// The global option that points aimsctl at `collector`.
std::string CollectorFlag(const collector::Collector& collector) {
  return absl::StrCat("--collector=127.0.0.1:", collector.grpc_port());
}

TEST(CtlTest, UsageErrorsExitTwo) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand({}, out, err), 2);
  EXPECT_NE(err.str().find("no command"), std::string::npos);
  EXPECT_EQ(RunCommand({"frobnicate"}, out, err), 2);
  EXPECT_NE(err.str().find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_EQ(RunCommand({"windows"}, out, err), 2);
  EXPECT_NE(err.str().find("--model and --version are required"),
            std::string::npos);
}

TEST(CtlTest, UnreachableCollectorExitsOne) {
  std::ostringstream out, err;
  // Nothing listens on port 1.
  EXPECT_EQ(RunCommand({"--collector=127.0.0.1:1", "--timeout=2s", "models"},
                       out, err),
            1);
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
  const std::string flag = CollectorFlag(collector);
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({flag, "models"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("credit  v2       prod         1       1        42"),
            std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "agents"}, out, err), 0);
  // Its replica slot; disconnected without a Goodbye, so it has not left.
  EXPECT_NE(out.str().find("credit-7f9c  1     no         -     1"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("pod-a"), std::string::npos);
  EXPECT_NE(out.str().find("credit/v2/prod"), std::string::npos);
  EXPECT_NE(out.str().find("credit-7f9c"), std::string::npos);
  out.str("");
  ASSERT_EQ(RunCommand({flag, "--json", "agents"}, out, err), 0);
  EXPECT_NE(out.str().find("\"agent_id\":\"pod-a\""), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"event_count\":\"42\""), std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "windows", "--model=credit", "--version=v2",
                        "--environment=prod", "--step=5m"},
                       out, err),
            0)
      << err.str();
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
  const std::string flag = CollectorFlag(collector);
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({flag, "profile", "build",
                        "--input=" + dir.File("train.csv"), "--model=credit",
                        "--version=v7", "--sensitive=gender", "--ignore=id",
                        "--output=" + dir.File("profile.json"), "--put"},
                       out, err),
            0)
      << err.str();
  EXPECT_NE(out.str().find("stored profile "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("(200 rows, 3 features)"), std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(
      RunCommand({flag, "profile", "show", "--model=credit", "--version=v7"},
                 out, err),
      0)
      << err.str();
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
  ASSERT_EQ(
      RunCommand({flag, "profile", "put", dir.File("profile.json")}, out, err),
      0)
      << err.str();
  // A bad score names the line and column.
  {
    std::ofstream csv(dir.File("bad.csv"));
    csv << "income,score\n1,0.5\n2,1.7\n";
  }
  EXPECT_EQ(
      RunCommand({flag, "profile", "build", "--input=" + dir.File("bad.csv"),
                  "--model=credit", "--version=v7", "--ignore=id",
                  "--output=" + dir.File("profile.json")},
                 out, err),
      2);
  EXPECT_NE(
      err.str().find(
          "line 3: column score: score must be a number in [0, 1], got '1.7'"),
      std::string::npos)
      << err.str();
  EXPECT_EQ(
      RunCommand({flag, "profile", "show", "--model=nothing", "--version=v7"},
                 out, err),
      1);
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
    e.latency_seconds = 0.0204;
    accumulator.Add(e);
  }
  SendReport(address, "default", accumulator.Build());
  const std::vector<std::string> metrics = {"--collector=" + address, "metrics",
                                            "--model=credit", "--version=v2",
                                            "--step=1h"};
  auto with = [&metrics](std::vector<std::string> more) {
    std::vector<std::string> args = metrics;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand(with({"--metric=accuracy,demographic_parity_ratio,"
                             "selection_rate"}),
                       out, err),
            0)
      << err.str();
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
  // Latency in the unit `windows` uses, from the same formatter: 20.4 ms
  // events show as about 20.4ms (DDSketch, 1% relative error) in both.
  out.str("");
  ASSERT_EQ(RunCommand(with({"--metric=latency_p50"}), out, err), 0)
      << err.str();
  const std::vector<std::string> row = absl::StrSplit(
      out.str().substr(out.str().find('\n') + 1), ' ', absl::SkipEmpty());
  ASSERT_GE(row.size(), 4u) << out.str();
  EXPECT_EQ(row[1], "latency_p50") << out.str();
  const std::string p50 = row[3];
  ASSERT_TRUE(absl::EndsWith(p50, "ms")) << out.str();
  EXPECT_NEAR(std::stod(p50), 20.4, 0.3) << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({"--collector=" + address, "windows", "--model=credit",
                        "--version=v2", "--step=1h"},
                       out, err),
            0)
      << err.str();
  EXPECT_NE(out.str().find(absl::StrCat(" ", p50, " ")), std::string::npos)
      << "metrics printed " << p50 << ", windows:\n"
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand(with({"--json", "--metric=accuracy"}), out, err), 0)
      << err.str();
  EXPECT_NE(out.str().find("\"metric\":\"accuracy\""), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"value\":0.9"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("\"sample_size\":\"200\""), std::string::npos)
      << out.str();
}

// A collector whose plan wants accuracy >= 0.95 for credit/v2/default, fed
// one window of accuracy 0.9 and evaluated once: NC-000001 is open.
std::unique_ptr<collector::Collector> StartWithFailingAccuracy(
    const testing::TempDir& dir, const Clock* clock = &RealClock::Get()) {
  {
    std::ofstream plan(dir.File("plan.yaml"));
    plan << "coverage: {enabled: false}\nobjectives:\n"
            "  - {id: acc, metric: accuracy, comparator: '>=', threshold: "
            "0.95, window: 1h, decision: point}\n";
  }
  collector::CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  co.plan_file = dir.File("plan.yaml");
  co.evaluate_in_background = false;
  auto collector = std::make_unique<collector::Collector>(co, clock);
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
  const std::string flag = CollectorFlag(*collector);
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({flag, "objectives"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("acc        credit/v2/default  firing  0.9    100"),
            std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("NC-000001"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("open"), std::string::npos) << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "show", "NC-000001"}, out, err), 0)
      << err.str();
  EXPECT_NE(
      out.str().find("evidence:     accuracy = 0.9 (must be >= 0.95), n = 100"),
      std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("reports:      pod-a/1"), std::string::npos)
      << out.str();
  // Steps out of order are refused with the next allowed step.
  EXPECT_EQ(RunCommand({flag, "nc", "act", "NC-000001", "--actor=ana",
                        "--comment=retrained"},
                       out, err),
            1);
  EXPECT_NE(err.str().find("NC-000001 is open; the next step is 'ack'"),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "ack", "NC-000001", "--actor=ana",
                        "--comment=retrained"},
                       out, err),
            0)
      << err.str();
  EXPECT_EQ(out.str(), "NC-000001 is now acknowledged (by ana)\n");
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list", "--stage=acknowledged"}, out, err),
            0);
  EXPECT_NE(out.str().find("NC-000001"), std::string::npos);
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list", "--stage=closed"}, out, err), 0);
  EXPECT_EQ(out.str().find("NC-000001"), std::string::npos);
  EXPECT_EQ(RunCommand({flag, "nc", "list", "--stage=done"}, out, err), 2);
  out.str("");
  ASSERT_EQ(RunCommand({flag, "audit", "verify"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("audit trail intact: "), std::string::npos)
      << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "audit", "list"}, out, err), 0) << err.str();
  for (const char* kind : {"plan_version", "agent_connect", "objective_state",
                           "nc_opened", "nc_transition"}) {
    EXPECT_NE(out.str().find(kind), std::string::npos) << kind << "\n"
                                                       << out.str();
  }
  out.str("");
  ASSERT_EQ(RunCommand({flag, "plan", "reload"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("1 objectives, 1 unchanged"), std::string::npos)
      << out.str();
}

// Owner, due date and ticket link, overdue ones marked in nc list, and the
// invalid ending; each refusal says why.
TEST(CtlTest, NonconformityOwnerDueTicketAndInvalid) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string flag = CollectorFlag(*collector);
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({flag, "nc", "assign", "NC-000001", "--owner=bo",
                        "--actor=ana", "--comment=on call"},
                       out, err),
            0)
      << err.str();
  EXPECT_EQ(out.str(), "NC-000001: owner: - -> bo; on call (by ana)\n");
  EXPECT_EQ(RunCommand({flag, "nc", "link", "NC-000001",
                        "--ticket=tracker/AIMS-1", "--actor=ana"},
                       out, err),
            1);
  EXPECT_NE(err.str().find("ticket_url: 'tracker/AIMS-1' is not an http(s) "
                           "URL"),
            std::string::npos)
      << err.str();
  ASSERT_EQ(
      RunCommand({flag, "nc", "link", "NC-000001",
                  "--ticket=https://tracker.example/AIMS-1", "--actor=ana"},
                 out, err),
      0)
      << err.str();
  // Not overdue with the plan's default (warning: 14d).
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list", "--overdue"}, out, err), 0);
  EXPECT_EQ(out.str().find("NC-000001"), std::string::npos) << out.str();
  // Due at its opening: overdue now.
  out.str("");
  ASSERT_EQ(RunCommand({flag, "--json", "nc", "show", "NC-000001"}, out, err),
            0);
  const std::string json = out.str();
  const size_t at = json.find("\"opened_at\":\"") + 13;
  const std::string opened = json.substr(at, json.find('"', at) - at);
  ASSERT_EQ(RunCommand({flag, "nc", "due", "NC-000001", "--at=" + opened,
                        "--actor=ana"},
                       out, err),
            0)
      << err.str();
  EXPECT_EQ(RunCommand({flag, "nc", "due", "NC-000001", "--at=2000-01-01",
                        "--actor=ana"},
                       out, err),
            1);
  EXPECT_NE(err.str().find("is before the opening"), std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list", "--overdue"}, out, err), 0);
  EXPECT_NE(out.str().find("OVERDUE"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(" bo "), std::string::npos) << out.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "show", "NC-000001"}, out, err), 0);
  EXPECT_NE(out.str().find("owner:        bo"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("ticket:       https://tracker.example/AIMS-1"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("ana  changed owner  owner: - -> bo; on call"),
            std::string::npos)
      << out.str();

  EXPECT_EQ(
      RunCommand({flag, "nc", "invalid", "NC-000001", "--actor=ana"}, out, err),
      1);
  EXPECT_NE(err.str().find("comment: required for invalid (why it is not a "
                           "real breach)"),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "invalid", "NC-000001", "--actor=ana",
                        "--comment=labels of a test tenant"},
                       out, err),
            0)
      << err.str();
  EXPECT_EQ(out.str(), "NC-000001 is now invalid (by ana)\n");
  EXPECT_EQ(RunCommand({flag, "nc", "accept-risk", "NC-000001", "--actor=ana",
                        "--comment=x", "--until=2999-01-01"},
                       out, err),
            1);
  EXPECT_NE(err.str().find("NC-000001 was marked invalid (not a real "
                           "breach); its record is final"),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "list", "--stage=invalid"}, out, err), 0);
  EXPECT_NE(out.str().find("NC-000001"), std::string::npos) << out.str();
}

// Every plan version the collector loaded, with its text: plan versions
// lists them newest first, plan diff shows the changed lines.
TEST(CtlTest, PlanVersionsAndDiff) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string flag = CollectorFlag(*collector);
  const std::string first = testing::ReadFile(dir.File("plan.yaml"));
  std::string second = first;
  second.replace(second.find("0.95"), 4, "0.85");
  std::ofstream(dir.File("plan.yaml"), std::ios::trunc) << second;
  std::ostringstream out, err;
  ASSERT_EQ(RunCommand({flag, "plan", "reload"}, out, err), 0) << err.str();
  const std::string v1 = Sha256Hex(first), v2 = Sha256Hex(second);
  out.str("");
  ASSERT_EQ(RunCommand({flag, "plan", "versions"}, out, err), 0) << err.str();
  const std::string table = out.str();
  ASSERT_NE(table.find(v2.substr(0, 16)), std::string::npos) << table;
  EXPECT_LT(table.find(v2.substr(0, 16)), table.find(v1.substr(0, 16)))
      << table;  // newest first
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3) << table;
  EXPECT_NE(table.find("yes"), std::string::npos) << table;
  out.str("");
  ASSERT_EQ(RunCommand({flag, "plan", "diff", v1.substr(0, 8), v2.substr(0, 8)},
                       out, err),
            0)
      << err.str();
  EXPECT_NE(out.str().find("-   - {id: acc, metric: accuracy, comparator: "
                           "'>=', threshold: 0.95"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("+   - {id: acc"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("0.85"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("  coverage: {enabled: false}"), std::string::npos)
      << out.str();
  EXPECT_EQ(
      RunCommand({flag, "plan", "diff", "zzzz", v2.substr(0, 8)}, out, err), 2);
  EXPECT_NE(err.str().find("no plan version starts with 'zzzz'"),
            std::string::npos)
      << err.str();
}

// Who takes an nc step without --actor and without a token: $USER, else
// the OS account's name; neither known (a container without $USER or a
// passwd entry) is a usage error naming --actor, before any call.
TEST(CtlTest, NcStepActorFromUserThenOsAccountElseNamedError) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string flag = CollectorFlag(*collector);
  auto step = [&](const Environment& env, const std::string& verb,
                  std::string* out, std::string* err) {
    std::ostringstream o, e;
    const int code = RunCommandLine(
        {flag, "nc", verb, "NC-000001", "--comment=looked"}, env, o, e);
    *out = o.str();
    *err = e.str();
    return code;
  };
  std::string out, err;
  Environment nobody;
  nobody.variables["USER"] = "";
  EXPECT_EQ(step(nobody, "ack", &out, &err), 2);
  EXPECT_NE(err.find("nc ack: --actor: no name for the person taking the "
                     "step ($USER is empty and the OS account has no name)"),
            std::string::npos)
      << err;
  EXPECT_EQ(out, "");
  Environment os_account = nobody;
  os_account.os_user = "ana";
  ASSERT_EQ(step(os_account, "ack", &out, &err), 0) << err;
  EXPECT_EQ(out, "NC-000001 is now acknowledged (by ana)\n");
  Environment user = os_account;
  user.variables["USER"] = "bo";
  ASSERT_EQ(step(user, "analyse", &out, &err), 0) << err;
  EXPECT_EQ(out, "NC-000001 is now cause_analysed (by bo)\n");
  // The real binary with an empty environment: the OS account's name.
  std::string name;
  if (const struct passwd* pw = getpwuid(geteuid()); pw != nullptr) {
    name = pw->pw_name;
  }
  ASSERT_FALSE(name.empty()) << "this test needs an OS account with a name";
  ASSERT_EQ(testing::RunCommand({"/usr/bin/env", "-i", AIMS_CTL_BIN, flag, "nc",
                                 "act", "NC-000001", "--comment=fixed"},
                                &out, &err),
            0)
      << err;
  EXPECT_EQ(out,
            absl::StrCat("NC-000001 is now action_recorded (by ", name, ")\n"));
  std::ostringstream shown, e;
  ASSERT_EQ(RunCommand({flag, "nc", "show", "NC-000001"}, shown, e), 0);
  EXPECT_NE(shown.str().find(absl::StrCat("  ", name, "  ")), std::string::npos)
      << shown.str();
}

TEST(CtlTest, ReportRendersThePeriodInEveryFormat) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string flag = CollectorFlag(*collector);
  // `aimsctl report` with `options`.
  auto report = [&flag](std::vector<std::string> options) {
    options.insert(options.begin(), {flag, "report"});
    return options;
  };
  std::ostringstream out, err;
  ASSERT_EQ(
      RunCommand({flag, "nc", "ack", "NC-000001", "--actor=ana"}, out, err), 0)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand(report({}), out, err), 0) << err.str();
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

  out.str("");
  ASSERT_EQ(RunCommand(report({"--format=csv", "--table=open"}), out, err), 0)
      << err.str();
  const std::string csv = out.str();
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2) << csv;
  EXPECT_EQ(csv.find("NC-000001,warning,acc,credit/v2/default,"),
            csv.find('\n') + 1)
      << csv;

  const std::string html = dir.File("report.html");
  out.str("");
  ASSERT_EQ(RunCommand(report({"--format=html", "--output=" + html}), out, err),
            0)
      << err.str();
  EXPECT_NE(out.str().find("wrote " + html), std::string::npos);
  EXPECT_NE(testing::ReadFile(html).find("<td>NC-000001</td>"),
            std::string::npos);

  // A period before anything happened has no nonconformities.
  out.str("");
  ASSERT_EQ(RunCommand(report({"--format=markdown", "--from=2020-01-01",
                               "--to=2020-01-02T00:00:00Z"}),
                       out, err),
            0)
      << err.str();
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
  EXPECT_EQ(RunCommand(report({"--format=pdf", "--from=2020-01-01",
                               "--to=2020-01-02T00:00:00Z"}),
                       out, err),
            2);
  EXPECT_NE(err.str().find("--format: 'pdf' is not markdown, html or csv"),
            std::string::npos);
  EXPECT_EQ(
      RunCommand(report({"--from=last tuesday", "--to=2020-01-02T00:00:00Z"}),
                 out, err),
      2);
  EXPECT_NE(err.str().find("--from: 'last tuesday' is not RFC 3339"),
            std::string::npos);
  err.str("");
  EXPECT_EQ(
      RunCommand(report({"--from=2020-01-03", "--to=2020-01-02T00:00:00Z"}),
                 out, err),
      1);
  EXPECT_NE(err.str().find("from: 2020-01-03T00:00:00.000Z is not before to: "
                           "2020-01-02T00:00:00.000Z"),
            std::string::npos)
      << err.str();
}

// aimsctl report --format=html|csv|markdown prints the collector's bytes:
// the same as GET /v1/report?format= (one renderer), with the objective's
// stored value drawn against its threshold. The clock stands still so both
// reports carry the same generation time.
TEST(CtlTest, ReportFormatsAreTheCollectorsBytes) {
  testing::TempDir dir;
  FakeClock clock(absl::Now());
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir, &clock);
  clock.Advance(absl::Seconds(1));  // NC-000001 opened before the report
  const std::string flag = CollectorFlag(*collector);
  httplib::Client http("127.0.0.1", collector->http_port());
  for (const auto& [format, content_type] :
       std::vector<std::pair<std::string, std::string>>{
           {"html", "text/html; charset=utf-8"},
           {"markdown", "text/markdown; charset=utf-8"},
           {"csv", "text/csv; charset=utf-8"}}) {
    const std::string file = dir.File("report." + format);
    std::ostringstream out, err;
    ASSERT_EQ(RunCommand({flag, "report", "--format=" + format, "--table=open",
                          "--output=" + file},
                         out, err),
              0)
        << err.str();
    EXPECT_NE(out.str().find(" 1 objectives, 1 nonconformities)"),
              std::string::npos)
        << out.str();
    auto res = http.Get("/v1/report?format=" + format + "&table=open");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), content_type);
    EXPECT_EQ(res->body, testing::ReadFile(file)) << format;
  }
  const std::string html = testing::ReadFile(dir.File("report.html"));
  // The aimsctl binary prints the same page.
  std::string printed, printed_err;
  ASSERT_EQ(testing::RunCommand({AIMS_CTL_BIN, flag, "report", "--format=html"},
                                &printed, &printed_err),
            0)
      << printed_err;
  EXPECT_EQ(printed, html);
  // The one stored window (accuracy 0.9) is a point below the dashed 0.95.
  EXPECT_NE(html.find("<circle "), std::string::npos) << html;
  EXPECT_NE(html.find("threshold: must be at least 0.95"), std::string::npos);
  EXPECT_NE(html.find("The accuracy was 0.9; the plan requires at least "
                      "0.95. Measured on 100 labelled predictions."),
            std::string::npos)
      << html;
  EXPECT_EQ(testing::ReadFile(dir.File("report.csv"))
                .rfind("Id,Severity,Objective,Series,Opened,Age,Stage,Owner,"
                       "Next step,Due,Ticket\r\nNC-000001,warning,acc,",
                       0),
            0u);
  // An unknown table is a usage error naming the tables the collector has.
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand({flag, "report", "--format=csv", "--table=everything"},
                       out, err),
            2);
  EXPECT_NE(err.str().find("--table: 'everything' is not one of plan, "
                           "summary, objectives, results, trend, open, "
                           "nonconformities"),
            std::string::npos)
      << err.str();
}

TEST(CtlTest, NcFiltersJsonPlanCommandsAndBrokenAudit) {
  testing::TempDir dir;
  std::unique_ptr<collector::Collector> collector =
      StartWithFailingAccuracy(dir);
  const std::string flag = CollectorFlag(*collector);
  std::ostringstream out, err;
  // Filters: NC-000001 is a warning without owner, opened just now.
  auto listed = [&](std::vector<std::string> filters) {
    filters.insert(filters.begin(), {flag, "nc", "list"});
    out.str("");
    EXPECT_EQ(RunCommand(filters, out, err), 0) << err.str();
    return out.str().find("NC-000001") != std::string::npos;
  };
  EXPECT_TRUE(listed({"--severity=warning"}));
  EXPECT_FALSE(listed({"--severity=critical"}));
  EXPECT_FALSE(listed({"--owner=nobody@example.com"}));
  EXPECT_TRUE(listed({"--from=2020-01-01"}));
  EXPECT_FALSE(listed({"--from=2999-01-01"}));
  EXPECT_FALSE(listed({"--model=fraud"}));
  EXPECT_TRUE(listed({"--model=credit", "--objective=acc"}));
  EXPECT_EQ(RunCommand({flag, "nc", "list", "--severity=urgent"}, out, err), 2);
  EXPECT_NE(err.str().find(
                "--severity: 'urgent' is not one of info, warning, critical"),
            std::string::npos);

  // --json answers are proto3 JSON.
  out.str("");
  ASSERT_EQ(RunCommand({flag, "--json", "nc", "list"}, out, err), 0);
  EXPECT_NE(out.str().find(R"("id":"NC-000001")"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(R"("stage":"NONCONFORMITY_STAGE_OPEN")"),
            std::string::npos);
  out.str("");
  ASSERT_EQ(RunCommand({flag, "nc", "show", "NC-000001", "--json"}, out, err),
            0);
  EXPECT_NE(out.str().find(R"("metric":"accuracy")"), std::string::npos)
      << out.str();

  // plan validate: valid, and an error naming file, line, column and field.
  out.str("");
  ASSERT_EQ(
      RunCommand({flag, "plan", "validate", dir.File("plan.yaml")}, out, err),
      0)
      << err.str();
  EXPECT_NE(out.str().find("valid, version "), std::string::npos);
  EXPECT_NE(out.str().find("acc  accuracy"), std::string::npos) << out.str();
  // The plan sets no effectiveness_period: the documented default, 1h.
  EXPECT_NE(out.str().find("REVIEW_AFTER"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("  point     1h  "), std::string::npos) << out.str();
  {
    std::ofstream bad(dir.File("bad.yaml"));
    bad << "objectives:\n  - id: acc\n    metric: accurracy\n";
  }
  err.str("");
  EXPECT_EQ(
      RunCommand({flag, "plan", "validate", dir.File("bad.yaml")}, out, err),
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
  EXPECT_EQ(RunCommand({flag, "plan", "reload"}, out, err), 1);
  EXPECT_NE(err.str().find("plan.yaml:3:13: objectives[0].metric: "),
            std::string::npos)
      << err.str();
  out.str("");
  ASSERT_EQ(RunCommand({flag, "objectives"}, out, err), 0);
  EXPECT_NE(out.str().find("acc "), std::string::npos) << out.str();

  // The audit trail edited on disk: verify names the record, exit code 3.
  out.str("");
  ASSERT_EQ(RunCommand({flag, "audit", "verify"}, out, err), 0);
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
  out.str("");
  EXPECT_EQ(RunCommand({CollectorFlag(restarted), "audit", "verify"}, out, err),
            3);
  EXPECT_EQ(out.str(),
            "audit trail BROKEN at record 2: content does not match its hash "
            "(record edited) (1 records before it verified)\n");
}

}  // namespace
}  // namespace aims::ctl

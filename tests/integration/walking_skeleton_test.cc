// The walking skeleton with the three real binaries on free loopback ports:
// aims-collector, two aims-agent replicas of one model, and aimsctl.
#include <signal.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::ReadPortsFile;
using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

class WalkingSkeletonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_ = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_COLLECTOR_BIN, "--grpc_listen=127.0.0.1:0",
            "--http_listen=127.0.0.1:0", "--data_dir=" + dir_.File("collector"),
            "--ports_file=" + dir_.File("collector.ports")},
        dir_.File("collector.log"));
    grpc_port_ = WaitForPort(dir_.File("collector.ports"), "grpc");
    ASSERT_NE(grpc_port_, 0) << testing::ReadFile(dir_.File("collector.log"));
    collector_address_ = absl::StrCat("127.0.0.1:", grpc_port_);
  }

  std::unique_ptr<Subprocess> StartAgent(const std::string& name, int* port) {
    auto agent = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_AGENT_BIN, "--model_name=credit-scoring", "--model_version=v1",
            "--environment=it", "--collector=" + collector_address_,
            "--http_listen=127.0.0.1:0", "--window=1s", "--pod=" + name,
            "--data_dir=" + dir_.File(name),
            "--ports_file=" + dir_.File(name + ".ports")},
        dir_.File(name + ".log"));
    *port = WaitForPort(dir_.File(name + ".ports"), "http");
    return agent;
  }

  std::string Ctl(std::vector<std::string> args, int* code) {
    std::vector<std::string> argv = {AIMS_CTL_BIN,
                                     "--collector=" + collector_address_};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out, err;
    *code = RunCommand(argv, &out, &err);
    return out + err;
  }

  testing::TempDir dir_;
  std::unique_ptr<Subprocess> collector_;
  int grpc_port_ = 0;
  std::string collector_address_;
};

TEST_F(WalkingSkeletonTest, EventsFlowFromTwoAgentsToTheCollectorAndAimsctl) {
  int port_a = 0, port_b = 0;
  auto agent_a = StartAgent("replica-a", &port_a);
  auto agent_b = StartAgent("replica-b", &port_b);
  ASSERT_NE(port_a, 0) << testing::ReadFile(dir_.File("replica-a.log"));
  ASSERT_NE(port_b, 0) << testing::ReadFile(dir_.File("replica-b.log"));

  int sent = 0;
  for (int round = 0; round < 6; ++round) {
    for (int port : {port_a, port_b}) {
      httplib::Client http("127.0.0.1", port);
      std::string lines;
      for (int i = 0; i < 50; ++i) {
        absl::StrAppend(&lines, R"({"prediction_id":"r)", round, "-", i,
                        R"(","features":{"income":)", 1000 * i,
                        R"(,"region":"north"},"prediction":1,"score":0.9,)",
                        R"("attributes":{"gender":"f"},"latency_ms":5})", "\n");
      }
      auto res = http.Post("/v1/events", lines, "application/x-ndjson");
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 200) << res->body;
      sent += 50;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // SIGTERM: each agent closes its window, drains its spool and exits 0.
  EXPECT_EQ(agent_a->Signal(SIGTERM), 0)
      << testing::ReadFile(dir_.File("replica-a.log"));
  EXPECT_EQ(agent_b->Signal(SIGTERM), 0)
      << testing::ReadFile(dir_.File("replica-b.log"));

  int code = 0;
  std::string models = Ctl({"models"}, &code);
  ASSERT_EQ(code, 0) << models;
  // MODEL VERSION ENVIRONMENT AGENTS REPORTS EVENTS ...
  std::vector<std::string> lines =
      absl::StrSplit(models, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << models;
  std::vector<std::string> cells =
      absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
  ASSERT_GE(cells.size(), 6u);
  EXPECT_EQ(cells[0], "credit-scoring");
  EXPECT_EQ(cells[3], "2");           // agents
  EXPECT_GE(std::stoi(cells[4]), 2);  // at least one window per agent
  EXPECT_EQ(cells[5], std::to_string(sent));

  std::string agents = Ctl({"agents", "--json"}, &code);
  ASSERT_EQ(code, 0) << agents;
  EXPECT_NE(agents.find("\"pod\":\"replica-a\""), std::string::npos) << agents;
  EXPECT_NE(agents.find("\"pod\":\"replica-b\""), std::string::npos) << agents;
  EXPECT_NE(agents.find("\"duplicate_count\":\"0\""), std::string::npos)
      << agents;

  std::string windows =
      Ctl({"windows", "--model=credit-scoring", "--version=v1",
           "--environment=it", "--since=10m", "--step=1h"},
          &code);
  ASSERT_EQ(code, 0) << windows;
  // Every event sent, in one row or two (the steps are aligned to the hour,
  // and the traffic may straddle one).
  uint64_t events = 0;
  std::vector<std::string> rows =
      absl::StrSplit(windows, '\n', absl::SkipEmpty());
  ASSERT_GE(rows.size(), 2u) << windows;
  for (size_t i = 1; i < rows.size(); ++i) {
    std::vector<std::string> cells =
        absl::StrSplit(rows[i], ' ', absl::SkipEmpty());
    ASSERT_GE(cells.size(), 4u) << windows;
    events += std::stoull(cells[3]);  // START END REPORTS EVENTS ...
  }
  EXPECT_EQ(events, static_cast<uint64_t>(sent)) << windows;

  // The collector stops cleanly too, and its data survives a restart.
  EXPECT_EQ(collector_->Signal(SIGTERM), 0);
  collector_ = std::make_unique<Subprocess>(
      std::vector<std::string>{
          AIMS_COLLECTOR_BIN,
          absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
          "--http_listen=127.0.0.1:0", "--data_dir=" + dir_.File("collector")},
      dir_.File("collector2.log"));
  std::string again;
  ASSERT_TRUE(WaitFor(
      [&] {
        again = Ctl({"models"}, &code);
        return code == 0;
      },
      absl::Seconds(20)))
      << again;
  EXPECT_NE(again.find(absl::StrCat(" ", sent, " ")), std::string::npos)
      << again;
}

// SIGHUP makes the collector binary re-read --plan: a valid new version is
// recorded in the audit trail, an invalid one is refused and the plan in
// force stays; the collector keeps serving.
TEST(CollectorBinaryTest, SighupReloadsThePlan) {
  testing::TempDir dir;
  const std::string plan = dir.File("plan.yaml");
  auto write_plan = [&](const std::string& text) {
    std::ofstream(plan, std::ios::trunc) << text;
  };
  write_plan(
      "coverage: {enabled: false}\nobjectives:\n"
      "  - {id: acc, metric: accuracy, comparator: '>=', threshold: 0.9}\n");
  Subprocess collector(
      {AIMS_COLLECTOR_BIN, "--grpc_listen=127.0.0.1:0",
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("data"),
       "--plan=" + plan, "--ports_file=" + dir.File("ports")},
      dir.File("collector.log"));
  const int port = WaitForPort(dir.File("ports"), "grpc");
  ASSERT_NE(port, 0) << testing::ReadFile(dir.File("collector.log"));
  auto plan_records = [&] {
    std::string out;
    RunCommand({AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", port),
                "audit", "list"},
               &out);
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StrContains(line, "plan_version")) lines.emplace_back(line);
    }
    return lines;
  };
  ASSERT_EQ(plan_records().size(), 1u);
  write_plan(
      "coverage: {enabled: false}\nobjectives:\n"
      "  - {id: acc, metric: accuracy, comparator: '>=', threshold: 0.9}\n"
      "  - {id: f1, metric: f1_macro, comparator: '>=', threshold: 0.8}\n");
  ASSERT_EQ(kill(collector.pid(), SIGHUP), 0);
  std::vector<std::string> records;
  ASSERT_TRUE(WaitFor(
      [&] {
        records = plan_records();
        return records.size() == 2;
      },
      absl::Seconds(20)))
      << testing::ReadFile(dir.File("collector.log"));
  EXPECT_TRUE(absl::StrContains(records[1], R"("objectives":"2")"))
      << records[1];
  EXPECT_TRUE(absl::StrContains(records[1], R"("unchanged":"1")"))
      << records[1];
  // An invalid file: refused with file, line and field in the log.
  write_plan("objectives:\n  - {id: acc, metric: accurracy}\n");
  ASSERT_EQ(kill(collector.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(testing::ReadFile(dir.File("collector.log")),
                                 "objectives[0].metric");
      },
      absl::Seconds(20)))
      << testing::ReadFile(dir.File("collector.log"));
  EXPECT_EQ(plan_records().size(), 2u);
  EXPECT_TRUE(collector.running());
}

TEST_F(WalkingSkeletonTest, BinariesExplainThemselves) {
  for (const char* bin : {AIMS_COLLECTOR_BIN, AIMS_AGENT_BIN}) {
    std::string out, err;
    RunCommand({bin, "--help"}, &out, &err);
    const std::string help = out + err;
    EXPECT_NE(help.find("Usage:"), std::string::npos) << bin;
    // The binary's own flags are listed with their help texts (that no
    // build path shows is ctest's help.no_build_paths).
    EXPECT_NE(help.find("--data_dir (Directory"), std::string::npos) << help;
    EXPECT_EQ(help.find("No flags matched"), std::string::npos) << help;
  }
  std::string out, err;
  // aimsctl (CLI11): its global options and commands on stdout, exit 0; a
  // usage error names the option on stderr, exit 2.
  EXPECT_EQ(RunCommand({AIMS_CTL_BIN, "--help"}, &out, &err), 0);
  EXPECT_NE(out.find("Usage: aimsctl"), std::string::npos) << out;
  EXPECT_NE(out.find("--collector"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({AIMS_CTL_BIN, "nc", "list", "--bogus"}, &out, &err), 2);
  EXPECT_NE(err.find("--bogus"), std::string::npos) << err;
  EXPECT_EQ(RunCommand({AIMS_AGENT_BIN, "--model_version=v1"}, &out, &err), 2);
  EXPECT_NE(err.find("--model_name is required"), std::string::npos) << err;
  EXPECT_EQ(RunCommand({AIMS_AGENT_BIN, "--model_name=m", "--model_version=v1",
                        "--window=0s"},
                       &out, &err),
            2);
  EXPECT_NE(err.find("--window"), std::string::npos) << err;
  EXPECT_EQ(
      RunCommand({AIMS_COLLECTOR_BIN, "--grpc_listen=nonsense"}, &out, &err),
      1);
  EXPECT_NE(err.find("--grpc_listen"), std::string::npos) << err;
}

}  // namespace
}  // namespace aims

// aimsctl's command line: --help, usage errors and their exit codes, global
// options on either side of the command, the environment and a config file,
// and the time range options that every range-reading command shares.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "collector/collector.h"
#include "ctl/ctl.h"
#include "gtest/gtest.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

namespace aims::ctl {
namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Aimsctl(const std::vector<std::string>& args,
               const Environment& env = Environment()) {
  std::ostringstream out, err;
  const int code = RunCommandLine(args, env, out, err);
  return {code, out.str(), err.str()};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CommandLineTest, HelpGoesToStandardOutputAndExitsZero) {
  Result main = Aimsctl({"--help"});
  EXPECT_EQ(main.code, 0);
  EXPECT_EQ(main.err, "");
  EXPECT_TRUE(Contains(main.out, "Usage: aimsctl [OPTIONS] SUBCOMMAND"))
      << main.out;
  for (const char* part :
       {"--collector", "--json", "--timeout", "--ca_file", "--token_file",
        "--config", "models", "windows", "metrics", "nc", "report", "profile",
        "token", "Exit codes: 0 ok, 1 collector error"}) {
    EXPECT_TRUE(Contains(main.out, part)) << part << "\n" << main.out;
  }
  Result sub = Aimsctl({"nc", "list", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_EQ(sub.err, "");
  EXPECT_TRUE(Contains(sub.out, "Usage: aimsctl nc list [OPTIONS]")) << sub.out;
  EXPECT_TRUE(Contains(sub.out, "--severity")) << sub.out;
  // Global options after the command, help in the middle of a group.
  EXPECT_EQ(Aimsctl({"metrics", "--json", "-h"}).code, 0);
  Result group = Aimsctl({"nc", "--help"});
  EXPECT_EQ(group.code, 0);
  EXPECT_TRUE(Contains(group.out, "analyse")) << group.out;
  // No build paths (absl's help named the source files).
  for (const Result& r : {main, sub, group}) {
    EXPECT_FALSE(Contains(r.out, ".cc")) << r.out;
    EXPECT_FALSE(Contains(r.out, "/work/")) << r.out;
  }
}

TEST(CommandLineTest, BackfillHelpAndUsageErrors) {
  Result help = Aimsctl({"backfill", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.err, "");
  EXPECT_TRUE(Contains(help.out, "Usage: aimsctl backfill [OPTIONS]"))
      << help.out;
  for (const char* part : {"--model", "--version", "--input", "--window",
                           "event-time windows", "counts it once"}) {
    EXPECT_TRUE(Contains(help.out, part)) << part << "\n" << help.out;
  }
  // Checked before any file is read or the collector is asked.
  Result no_input = Aimsctl({"backfill", "--model=m", "--version=v"});
  EXPECT_EQ(no_input.code, 2);
  EXPECT_TRUE(Contains(no_input.err, "--input")) << no_input.err;
  Result missing = Aimsctl(
      {"backfill", "--model=m", "--version=v", "--input=/nonexistent/x.jsonl"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(Contains(missing.err, "/nonexistent/x.jsonl")) << missing.err;
}

TEST(CommandLineTest, UsageErrorsExitTwoNamingTheOption) {
  Result r = Aimsctl({"nc", "list", "--bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "unknown option '--bogus'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "aimsctl nc list --help")) << r.err;

  // A command's own option goes after the command.
  r = Aimsctl({"--model=credit", "windows", "--version=v1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--model is an option of 'aimsctl windows'"))
      << r.err;

  r = Aimsctl({"models", "--timeout"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--timeout")) << r.err;

  r = Aimsctl({"--timeout=soon", "models"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "--timeout: 'soon' is not a duration")) << r.err;

  r = Aimsctl({"nc", "show"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "id is required")) << r.err;

  r = Aimsctl({"nc"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "aimsctl nc: expected one of list, show, ack"))
      << r.err;

  r = Aimsctl({"models", "extra"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "unexpected argument 'extra'")) << r.err;

  // --since is "from D ago up to now": refused together with --from/--to.
  for (const char* command : {"windows", "metrics", "report"}) {
    r = Aimsctl({command, "--model=m", "--version=v", "--since=1h",
                 "--from=2020-01-01"});
    EXPECT_EQ(r.code, 2) << command;
    EXPECT_TRUE(Contains(r.err, "--since")) << r.err;
    EXPECT_TRUE(Contains(r.err, "--from")) << r.err;
    r = Aimsctl({command, "--model=m", "--version=v", "--since=soon"});
    EXPECT_EQ(r.code, 2) << command;
    EXPECT_TRUE(Contains(r.err, "--since: 'soon' is not a duration")) << r.err;
  }
}

TEST(CommandLineTest, GlobalOptionsGoBeforeOrAfterTheCommand) {
  // Nothing listens on port 1: exit code 1 naming the collector either way.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"--collector=127.0.0.1:1", "--timeout=2s", "nc", "list",
            "--severity=critical"},
           {"nc", "list", "--collector=127.0.0.1:1", "--severity=critical",
            "--timeout=2s"},
           {"--timeout=2s", "models", "--collector", "127.0.0.1:1"}}) {
    Result r = Aimsctl(args);
    EXPECT_EQ(r.code, 1) << args[0];
    EXPECT_TRUE(Contains(r.err, "collector 127.0.0.1:1: unreachable")) << r.err;
  }
}

TEST(CommandLineTest, CommandLineBeatsEnvironmentBeatsConfigFile) {
  testing::TempDir dir;
  {
    std::ofstream config(dir.File("aimsctl.conf"));
    config << "# aimsctl settings\ncollector = 127.0.0.1:2\n"
              "timeout = 2s  # short\nmodel = credit\n";
  }
  const std::string config = "--config=" + dir.File("aimsctl.conf");
  Result r = Aimsctl({config, "models"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "collector 127.0.0.1:2")) << r.err;

  Environment env;
  env.variables["AIMS_COLLECTOR"] = "127.0.0.1:1";
  r = Aimsctl({config, "models"}, env);
  EXPECT_TRUE(Contains(r.err, "collector 127.0.0.1:1")) << r.err;
  r = Aimsctl({config, "models", "--collector=127.0.0.1:3"}, env);
  EXPECT_TRUE(Contains(r.err, "collector 127.0.0.1:3")) << r.err;

  // AIMS_CONFIG names the file; the environment's values are checked too.
  env.variables = {{"AIMS_CONFIG", dir.File("aimsctl.conf")},
                   {"AIMS_SINCE", "soon"}};
  r = Aimsctl({"windows", "--version=v1"}, env);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "AIMS_SINCE: --since: 'soon'")) << r.err;
  // A name of no aimsctl option is an error naming file and line.
  {
    std::ofstream config(dir.File("aimsctl.conf"), std::ios::app);
    config << "colector = 127.0.0.1:4\n";
  }
  r = Aimsctl({config, "models"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "aimsctl.conf:5: unknown setting 'colector'"))
      << r.err;
}

// A collector holding one 10 s window (ending 50 s ago) of 42 events, 21 of
// them errors.
class RangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector::CollectorOptions co;
    co.grpc_listen = "127.0.0.1:0";
    co.http_listen = "127.0.0.1:0";
    co.data_dir = dir_.File("data");
    co.sync_writes = false;
    collector_ = std::make_unique<collector::Collector>(co);
    ASSERT_TRUE(collector_->Start().ok());
    v1::WindowSummary summary;
    summary.mutable_operational()->set_event_count(42);
    summary.mutable_operational()->set_error_count(21);
    v1::ModelRef model;
    model.set_name("credit");
    model.set_version("v2");
    model.set_environment("default");
    ASSERT_TRUE(
        testing::SendWindowReport(collector_->grpc_port(), model, "pod-a", 1,
                                  absl::Now() - absl::Seconds(50), summary));
  }

  Result Ctl(const std::string& command, std::vector<std::string> range) {
    std::vector<std::string> args = {
        absl::StrCat("--collector=127.0.0.1:", collector_->grpc_port()),
        command, "--model=credit", "--version=v2"};
    args.insert(args.end(), range.begin(), range.end());
    return Aimsctl(args);
  }

  testing::TempDir dir_;
  std::unique_ptr<collector::Collector> collector_;
};

TEST_F(RangeTest, FromToAndSinceMeanTheSameForWindowsAndMetrics) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::vector<std::vector<std::string>> holding = {
      {},  // the default: the last hour
      {"--since=1h"},
      {"--since=0.05d"},
      {absl::StrCat("--from=", now - 3600), absl::StrCat("--to=", now + 60)},
      {absl::StrCat("--from=", now - 3600)},
      {"--from=" + absl::FormatTime(absl::RFC3339_sec,
                                    absl::FromUnixSeconds(now - 3600),
                                    absl::UTCTimeZone())}};
  for (const std::vector<std::string>& range : holding) {
    const std::string label = range.empty() ? "(default)" : range[0];
    Result windows = Ctl("windows", range);
    ASSERT_EQ(windows.code, 0) << label << windows.err;
    EXPECT_TRUE(Contains(windows.out, "  1        42      21 "))
        << label << "\n"
        << windows.out;
    Result metrics = Ctl("metrics", range);
    ASSERT_EQ(metrics.code, 0) << label << metrics.err;
    EXPECT_TRUE(Contains(metrics.out, "error_rate")) << label << metrics.out;
    EXPECT_TRUE(Contains(metrics.out, " 0.5 ")) << label << metrics.out;
  }
  // Ranges that miss the window.
  const std::vector<std::vector<std::string>> missing = {
      {"--since=10s"},
      {"--from=2020-01-01", "--to=2020-01-01T01:00:00Z"},
      {absl::StrCat("--from=", now - 3600), absl::StrCat("--to=", now - 600)}};
  for (const std::vector<std::string>& range : missing) {
    Result windows = Ctl("windows", range);
    ASSERT_EQ(windows.code, 0) << range[0] << windows.err;
    EXPECT_FALSE(Contains(windows.out, " 42 ")) << range[0] << windows.out;
    Result metrics = Ctl("metrics", range);
    ASSERT_EQ(metrics.code, 0) << range[0] << metrics.err;
    EXPECT_FALSE(Contains(metrics.out, "error_rate"))
        << range[0] << metrics.out;
  }
}

}  // namespace
}  // namespace aims::ctl

// Command lines: config file and environment in precedence order, the
// checks of arguments and option values, and - in a forked child, as the
// binaries run it - the exit codes and streams of --help and of usage
// errors.
#include "common/base/cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

ABSL_FLAG(absl::Duration, cli_test_window, absl::Seconds(10),
          "A duration flag of this test.");
ABSL_FLAG(bool, cli_test_bool, false, "A boolean flag of this test.");

namespace aims {
namespace {

TEST(CliTest, FileThenEnvironmentInPrecedenceOrder) {
  testing::TempDir dir;
  const std::string file = dir.File("agent.conf");
  std::ofstream(file) << "# sidecar settings\n"
                         "model_name = credit   # trailing comment\n"
                         "--window=30s\n"
                         "\n";
  auto args = ConfigArguments({"model_name", "window", "collector"}, file,
                              {{"AIMS_MODEL_NAME", "from-env"},
                               {"AIMS_COLLECTOR", "c:4317"},
                               {"AIMS_UNRELATED", "x"}});
  ASSERT_TRUE(args.ok()) << args.status();
  // Later entries win in absl: the environment comes after the file.
  EXPECT_EQ(*args, (std::vector<std::string>{
                       "--model_name=credit", "--window=30s",
                       "--model_name=from-env", "--collector=c:4317"}));
}

TEST(CliTest, UnknownSettingNamesFileAndLine) {
  testing::TempDir dir;
  const std::string file = dir.File("bad.conf");
  std::ofstream(file) << "model_name = a\nmodel_nmae = b\n";
  auto args = ConfigArguments({"model_name"}, file, {});
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(
      args.status().message(),
      file + ":2: unknown setting 'model_nmae' (see --help for the names)");
  std::ofstream(file) << "just words\n";
  EXPECT_NE(ConfigArguments({"model_name"}, file, {})
                .status()
                .message()
                .find(":1: expected"),
            absl::string_view::npos);
  EXPECT_EQ(
      ConfigArguments({"x"}, dir.File("missing.conf"), {}).status().code(),
      absl::StatusCode::kNotFound);
}

TEST(CliTest, ArgumentsAbslAcceptsPassTheCheck) {
  EXPECT_TRUE(CheckArguments({"prog", "--cli_test_window=5s", "positional",
                              "-cli_test_bool", "--nocli_test_bool",
                              "--cli_test_window", "7s", "--", "--bogus"})
                  .ok());
  // absl's usage flags, and unknown flags that --undefok excuses.
  for (const char* usage : {"--help", "--helpfull", "--help=window",
                            "--helpshort", "--version", "--only_check_args"}) {
    EXPECT_TRUE(CheckArguments({"prog", usage}).ok()) << usage;
  }
  EXPECT_TRUE(CheckArguments({"prog", "--nobogus", "--undefok=x,bogus"}).ok());
  // Checking sets nothing.
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_window), absl::Seconds(10));
  EXPECT_FALSE(absl::GetFlag(FLAGS_cli_test_bool));
}

TEST(CliTest, BadArgumentsNameTheFlag) {
  auto error = [](std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    return std::string(CheckArguments(args).message());
  };
  EXPECT_EQ(error({"--bogus=1"}), "--bogus: unknown flag (--help lists them)");
  // Only boolean flags have a --no form.
  EXPECT_EQ(error({"--nocli_test_window"}),
            "--nocli_test_window: unknown flag (--help lists them)");
  EXPECT_EQ(error({"--cli_test_window"}), "--cli_test_window: missing value");
  EXPECT_EQ(error({"--cli_test_bool="}),
            "--cli_test_bool=: missing value (true or false)");
  EXPECT_EQ(error({"--nocli_test_bool=true"}),
            "--nocli_test_bool: takes no value (--cli_test_bool=false is the "
            "same)");
  EXPECT_TRUE(
      absl::StartsWith(error({"--cli_test_window=soon"}),
                       "--cli_test_window: 'soon' is not a valid value"))
      << error({"--cli_test_window=soon"});
  EXPECT_TRUE(
      absl::StartsWith(error({"--nocli_test_bool", "--cli_test_bool=2"}),
                       "--cli_test_bool: '2' is not a valid value"));
}

TEST(CliTest, ChecksNameFlagValueAndLimit) {
  EXPECT_EQ(CheckRange("--threads", 0, 1, 64).message(),
            "--threads: 0, must be 1..64");
  EXPECT_TRUE(CheckRange("--threads", 64, 1, 64).ok());
  EXPECT_EQ(CheckAtLeast("--bytes", -1, 65536).message(),
            "--bytes: -1, must be at least 65536");
  EXPECT_EQ(CheckRange("--window", absl::ZeroDuration(), absl::Seconds(1),
                       absl::Hours(1))
                .message(),
            "--window: 0s, must be 1s..1h");
  EXPECT_EQ(
      CheckAtLeast("--ttl", absl::Milliseconds(10), absl::Seconds(1)).message(),
      "--ttl: 10ms, must be at least 1s");
  EXPECT_EQ(
      CheckAtLeast("--skew", -absl::Minutes(1), absl::ZeroDuration()).message(),
      "--skew: -1m, must not be negative");
  EXPECT_EQ(
      CheckRange("--window", absl::Seconds(1), absl::Seconds(1), absl::Hours(1))
          .code(),
      absl::StatusCode::kOk);
  enum class Mode { kAuto, kOn, kOff };
  auto mode = [](absl::string_view text) {
    return ParseChoice<Mode>(
        "--mode", text,
        {{"auto", Mode::kAuto}, {"on", Mode::kOn}, {"off", Mode::kOff}});
  };
  EXPECT_EQ(*mode("off"), Mode::kOff);
  EXPECT_EQ(mode("maybe").status().message(),
            "--mode: 'maybe' is not auto, on or off");
}

TEST(CliTest, RefusedOptionsExitTwoUnlessUnsafe) {
  EXPECT_EQ(OptionsError(absl::InvalidArgumentError("--x: 0, must be 1..2")),
            kExitUsage);
  EXPECT_EQ(OptionsError(absl::FailedPreconditionError("--y: plaintext")),
            kExitFailure);
}

// ParseCommandLine as a binary's main() runs it: in a forked child (gtest's
// death tests), with stdout to `stdout_path`.
void Parse(std::vector<std::string> args, const std::string& stdout_path) {
  const int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(out, STDOUT_FILENO);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ParseCommandLine(static_cast<int>(argv.size()), argv.data(),
                   "checks the command line.\n\nUsage: cli_test [--flag ...]");
  std::exit(0);
}

// Where this checkout is on the build machine, as absl would print it.
std::string BuildMachinePath() {
  absl::string_view file = __FILE__;
  if (!absl::ConsumeSuffix(&file, "tests/common/base/cli_test.cc")) return "";
  absl::ConsumePrefix(&file, "/");
  return std::string(file);
}

TEST(CliDeathTest, HelpGoesToStdoutAndExitsZero) {
  testing::TempDir dir;
  for (const char* mode : {"--help", "--helpfull", "--help=config"}) {
    const std::string out = dir.File("help.txt");
    EXPECT_EXIT(Parse({"cli_test", mode}, out), ::testing::ExitedWithCode(0),
                "")
        << mode;
    const std::string help = testing::ReadFile(out);
    EXPECT_TRUE(absl::StrContains(help, "cli_test: checks the command line."))
        << mode << ": " << help;
    EXPECT_TRUE(absl::StrContains(help, "--config (Config file")) << help;
    // No paths of the machine that built the binary, nor the files that
    // define the flags.
    EXPECT_FALSE(absl::StrContains(help, "Flags from")) << help;
    if (!BuildMachinePath().empty()) {
      EXPECT_FALSE(absl::StrContains(help, BuildMachinePath())) << help;
    }
  }
  // --help lists the flags of every aims file, this test's too; --helpfull
  // adds absl's.
  std::string out = dir.File("help.txt");
  EXPECT_EXIT(Parse({"cli_test", "--help"}, out), ::testing::ExitedWithCode(0),
              "");
  EXPECT_TRUE(absl::StrContains(testing::ReadFile(out), "--cli_test_window"));
  EXPECT_FALSE(absl::StrContains(testing::ReadFile(out), "--flagfile"));
  out = dir.File("full.txt");
  EXPECT_EXIT(Parse({"cli_test", "--helpfull"}, out),
              ::testing::ExitedWithCode(0), "");
  EXPECT_TRUE(absl::StrContains(testing::ReadFile(out), "--cli_test_window"));
  EXPECT_TRUE(absl::StrContains(testing::ReadFile(out), "--flagfile"));
}

TEST(CliDeathTest, VersionExitsZero) {
  testing::TempDir dir;
  EXPECT_EXIT(Parse({"cli_test", "--version"}, dir.File("out")),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(testing::ReadFile(dir.File("out")), "aims 0.1.0\n");
}

TEST(CliDeathTest, UsageErrorsGoToStderrAndExitTwo) {
  testing::TempDir dir;
  const std::string out = dir.File("out");
  EXPECT_EXIT(Parse({"cli_test", "--bogus"}, out), ::testing::ExitedWithCode(2),
              "cli_test: --bogus: unknown flag \\(--help lists them\\)");
  EXPECT_EXIT(Parse({"cli_test", "--cli_test_window=soon"}, out),
              ::testing::ExitedWithCode(2),
              "cli_test: --cli_test_window: 'soon' is not a valid value");
  EXPECT_EXIT(Parse({"cli_test", "--help", "--cli_test_window"}, out),
              ::testing::ExitedWithCode(2),
              "cli_test: --cli_test_window: missing value");
  const std::string config = dir.File("bad.conf");
  std::ofstream(config) << "just words\n";
  EXPECT_EXIT(Parse({"cli_test", "--config=" + config}, out),
              ::testing::ExitedWithCode(2),
              "cli_test: .*bad.conf:1: expected 'name = value'");
  EXPECT_EQ(testing::ReadFile(out), "");  // nothing on stdout
}

TEST(CliDeathTest, GoodArgumentsAreSet) {
  testing::TempDir dir;
  auto parse_and_check = [&] {
    const int out = open(dir.File("out").c_str(), O_WRONLY | O_CREAT, 0600);
    dup2(out, STDOUT_FILENO);
    std::vector<std::string> args = {"cli_test", "--cli_test_window", "90s",
                                     "--cli_test_bool", "rest"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    const std::vector<std::string> positional =
        ParseCommandLine(static_cast<int>(argv.size()), argv.data(), "usage");
    const bool ok = positional == std::vector<std::string>{"rest"} &&
                    absl::GetFlag(FLAGS_cli_test_window) == absl::Seconds(90) &&
                    absl::GetFlag(FLAGS_cli_test_bool);
    std::exit(ok ? 0 : 1);
  };
  EXPECT_EXIT(parse_and_check(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace aims

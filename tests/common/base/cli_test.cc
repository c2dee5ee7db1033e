#include "common/base/cli.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

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

}  // namespace
}  // namespace aims

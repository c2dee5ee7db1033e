#include "common/cli.h"

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace aims {

std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          const std::string& usage) {
  absl::FlagsUsageConfig config;
  // Our flags live in each binary's main.cc; absl's own are in --helpfull.
  config.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "main.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] { return std::string("aims 0.1.0\n"); };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

}  // namespace aims

// aimsctl: command-line client of aims-collector. See --help.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/cli.h"
#include "collector/ctl/ctl.h"

ABSL_FLAG(std::string, collector, "127.0.0.1:4317",
          "gRPC address (host:port) of the aims-collector to ask.");
ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "Deadline of each call, e.g. 5s.");
ABSL_FLAG(std::string, model, "", "Model name (filter, or required by "
          "'windows').");
ABSL_FLAG(std::string, version, "", "Model version (filter, or required by "
          "'windows').");
ABSL_FLAG(std::string, environment, "", "Model environment (filter; "
          "'windows' defaults to 'default').");
ABSL_FLAG(absl::Duration, since, absl::Hours(1),
          "'windows': how far back to look, e.g. 15m.");
ABSL_FLAG(absl::Duration, step, absl::ZeroDuration(),
          "'windows': merge windows into buckets of this length (0: one row "
          "per window start).");

int main(int argc, char** argv) {
  std::vector<std::string> args = aims::ParseCommandLine(argc, argv,
      "ask an aims-collector about models, agents and windows.\n\n"
      "Usage: aimsctl [--collector=HOST:PORT] [--json] COMMAND [flags]\n\n" +
      aims::ctl::CommandHelp() +
      "\nExit codes: 0 ok, 1 collector error or unreachable, 2 usage error.");
  aims::ctl::CtlOptions options;
  options.collector = absl::GetFlag(FLAGS_collector);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.model = absl::GetFlag(FLAGS_model);
  options.version = absl::GetFlag(FLAGS_version);
  options.environment = absl::GetFlag(FLAGS_environment);
  options.since = absl::GetFlag(FLAGS_since);
  options.step = absl::GetFlag(FLAGS_step);
  return aims::ctl::RunCommand(args, options, std::cout, std::cerr);
}

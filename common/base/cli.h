// Command-line setup shared by the binaries.
//
// Configuration comes from three places, highest precedence first:
//   1. flags on the command line (--name=value);
//   2. environment variables AIMS_<NAME> (12-factor; e.g. AIMS_MODEL_NAME
//      for --model_name, as a Kubernetes downward API would set them);
//   3. a config file named by --config=FILE (or AIMS_CONFIG): one
//      `name = value` per line, '#' starts a comment.
// Only the binary's own flags (those defined in its main.cc) are read from
// the environment and the file; an unknown name in the file is an error
// naming the file and line. `--help` lists the binary's flags with their help.
//
// Thread-safety: call once from main() before any thread starts.
#ifndef AIMS_COMMON_BASE_CLI_H_
#define AIMS_COMMON_BASE_CLI_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace aims {

// Parses flags; exits with a message on --help or a bad flag, config file or
// environment value. Returns the positional arguments, without the program
// name.
std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          const std::string& usage);

// The `--name=value` arguments that the environment and `config_file`
// contribute for `flag_names`, lowest precedence first (exposed for tests).
absl::StatusOr<std::vector<std::string>> ConfigArguments(
    const std::vector<std::string>& flag_names, const std::string& config_file,
    const std::map<std::string, std::string>& environment);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_CLI_H_

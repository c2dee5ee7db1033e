// Option values from outside the command line. For each option of the
// command being run (and the global ones) that the command line leaves
// unset, in this order of precedence:
//   1. the command line;
//   2. the environment variable AIMS_<OPTION> (AIMS_COLLECTOR for
//      --collector, AIMS_TOKEN_FILE for --token_file);
//   3. the config file (--config=FILE, or AIMS_CONFIG): `name = value`
//      lines, '#' starts a comment, values as on the command line.
// A lower source never sets an option that excludes one already set (e.g.
// --since when --from is given). A config name that is an option of no
// aimsctl command is an error naming the file and line; names of other
// commands' options are ignored, so one file can serve every command.
//
// CLI11 2.1.2's own envname()/set_config() are not used: they apply the
// file before the environment (the file would win) and the environment to
// the options of every subcommand, selected or not.
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_OPTION_SOURCES_H_
#define AIMS_CTL_OPTION_SOURCES_H_

#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace aims::ctl {

// The environment variable of `option`: AIMS_ and its long name in upper
// case.
std::string EnvironmentName(const CLI::Option& option);

// Fills the unset options of `path` (the root app and the selected
// subcommands, in order) from `environment` and `config_file` (none when
// empty). `root` is the whole app, for the names a config file may use.
// Errors are usage errors naming the variable or file:line and the option.
absl::Status ApplyOptionSources(
    const CLI::App& root, const std::vector<CLI::App*>& path,
    const std::map<std::string, std::string>& environment,
    const std::string& config_file);

}  // namespace aims::ctl

#endif  // AIMS_CTL_OPTION_SOURCES_H_

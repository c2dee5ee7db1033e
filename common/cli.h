// Command-line setup shared by the binaries: `--help` lists the flags
// defined in the binary's own main.cc (with their help text), and the
// program's usage text opens it.
//
// Thread-safety: call once from main() before any thread starts.
#ifndef AIMS_COMMON_CLI_H_
#define AIMS_COMMON_CLI_H_

#include <string>
#include <vector>

namespace aims {

// Parses flags (absl flags); exits on --help or a bad flag. Returns the
// positional arguments, without the program name.
std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          const std::string& usage);

}  // namespace aims

#endif  // AIMS_COMMON_CLI_H_

// Command-line setup shared by the binaries: parsing flags, the exit codes
// of a refusal, and the checks that options' Validate() functions use.
//
// Configuration comes from three places, highest precedence first:
//   1. flags on the command line (--name=value);
//   2. environment variables AIMS_<NAME> (12-factor; e.g. AIMS_MODEL_NAME
//      for --model_name, as a Kubernetes downward API would set them);
//   3. a config file named by --config=FILE (or AIMS_CONFIG): one
//      `name = value` per line, '#' starts a comment.
// Only aims' flags (those defined in the binary's own files, --config and
// the --http_* flags of common/net/http_flags.h; not absl's) are read from
// the environment and the file; an unknown name in the file is an error
// naming the file and line.
//
// Exit codes: `--help` (and absl's --helpfull, --help=SUBSTRING, --version,
// ...) prints to stdout and exits 0. A usage error - an unknown flag, a
// value that does not parse, a bad config file line or environment value,
// options that do not validate - prints "<program>: <message>" on stderr
// and exits 2. A binary that cannot start exits 1. Help lists the aims
// flags (absl's own under --helpfull) without the files that define them,
// so no path of the build machine shows.
//
// Every check message names the flag, the value and the limit:
// "--window: 0s, must be 1s..1h".
//
// Thread-safety: ParseCommandLine once from main() before any thread
// starts; the rest are stateless.
#ifndef AIMS_COMMON_BASE_CLI_H_
#define AIMS_COMMON_BASE_CLI_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace aims {

inline constexpr int kExitFailure = 1;  // cannot start or run
inline constexpr int kExitUsage = 2;    // see the file comment

// Parses flags; exits (see the file comment) on --help and the like or on a
// usage error. Returns the positional arguments, without the program name.
std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          const std::string& usage);

// Checks `args` (program name first) as ParseCommandLine would parse them,
// leaving every flag as it was: INVALID_ARGUMENT naming the flag for an
// unknown flag (unless --undefok names it), a missing value or one that
// does not parse. absl's usage flags (--help, ...) pass. The lines of a
// --flagfile are absl's to read and check (absl exits 1 on an error
// there); aims reads --config instead (exposed for tests).
absl::Status CheckArguments(const std::vector<std::string>& args);

// The `--name=value` arguments that the environment and `config_file`
// contribute for `flag_names`, lowest precedence first (exposed for tests).
absl::StatusOr<std::vector<std::string>> ConfigArguments(
    const std::vector<std::string>& flag_names, const std::string& config_file,
    const std::map<std::string, std::string>& environment);

// Prints "<program>: <message>" on stderr and returns the exit code for
// options refused with `status`: kExitFailure for FAILED_PRECONDITION (valid
// but refused as unsafe, such as plaintext beyond loopback), kExitUsage
// otherwise. For main(): `return OptionsError(s);`.
int OptionsError(const absl::Status& status);

// "--flag: <value>, must be <min>..<max>". Counts kept as size_t are passed
// as they came from a signed flag: a negative value that wrapped on the way
// in reads as itself again.
absl::Status CheckRange(absl::string_view flag, int64_t value, int64_t min,
                        int64_t max);
// "--flag: <value>, must be at least <min>".
absl::Status CheckAtLeast(absl::string_view flag, int64_t value, int64_t min);
// The same for durations, written as in flags ("0s", "90s", "744h"); a
// minimum of 0 reads "must not be negative".
absl::Status CheckRange(absl::string_view flag, absl::Duration value,
                        absl::Duration min, absl::Duration max);
absl::Status CheckAtLeast(absl::string_view flag, absl::Duration value,
                          absl::Duration min);
// A duration as flags write it ("0s" rather than absl's "0").
std::string FlagDuration(absl::Duration d);

// The value of `choices` named `text`, or INVALID_ARGUMENT
// "--flag: 'x' is not auto, on or off".
template <typename T>
absl::StatusOr<T> ParseChoice(
    absl::string_view flag, absl::string_view text,
    std::initializer_list<std::pair<absl::string_view, T>> choices) {
  std::string names;
  size_t i = 0;
  for (const auto& [name, value] : choices) {
    if (name == text) return value;
    absl::StrAppend(&names,
                    i == 0                    ? ""
                    : i + 1 == choices.size() ? " or "
                                              : ", ",
                    name);
    ++i;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": '", text, "' is not ", names));
}

}  // namespace aims

#endif  // AIMS_COMMON_BASE_CLI_H_

// Option kinds that several aimsctl commands share, declared once so that
// they read and fail the same way everywhere:
//   - durations: absl's form (90s, 10m, 1h30m) or days (7d, 1.5d);
//   - times: RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01, midnight
//     UTC) or Unix seconds;
//   - a model: --model, --version, --environment;
//   - a time range: --from/--to, or --since (the last DURATION up to now);
//     --since excludes --from and --to (exit 2 when combined);
//   - a value out of a fixed list (--format, --severity, ...).
// Malformed values are usage errors naming the option, raised while CLI11
// parses (CLI::ValidationError, caught in RunCommandLine).
//
// Thread-safety: stateless functions; the option structs are plain values.
#ifndef AIMS_CTL_ARGUMENTS_H_
#define AIMS_CTL_ARGUMENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/query.pb.h"

namespace aims::ctl {

// INVALID_ARGUMENT "'TEXT' is not ..." (callers add the option's name).
absl::StatusOr<absl::Duration> ParseDurationArg(absl::string_view text);
absl::StatusOr<absl::Time> ParseTimeArg(absl::string_view text);

// A duration option stored in `*target` (whose value is the default).
CLI::Option* AddDurationOption(CLI::App* app, const std::string& name,
                               absl::Duration* target, const std::string& help);

// A time option, validated while parsing and kept as text in `*target`.
CLI::Option* AddTimeOption(CLI::App* app, const std::string& name,
                           std::string* target, const std::string& help);

// An option whose value must be one of `allowed`, e.g. --format; a list
// option (delimiter ',') checks each item. The error is "'x' is not " and
// `choices` (default: "one of a, b, c").
CLI::Validator OneOf(std::vector<std::string> allowed,
                     const std::string& choices = "");

struct ModelOptions {
  std::string model;
  std::string version;
  std::string environment;
};

// How a command uses the model options (for their help).
enum class ModelUse {
  kFilter,    // each narrows a listing; empty: any
  kRequired,  // --model and --version name one model
};

// --model, --version and --environment; `default_environment` is the help's
// word for an empty --environment.
void AddModelOptions(CLI::App* app, ModelOptions* options, ModelUse use,
                     const std::string& default_environment = "any");

// Usage error unless --model and --version are set (--environment has a
// default).
absl::Status RequireModel(const ModelOptions& options,
                          absl::string_view default_environment);

// The options as a filter (empty fields match anything).
v1::ModelSelector SelectorOf(const ModelOptions& options);
// The options as one model, `default_environment` for an empty one.
v1::ModelRef ModelRefOf(const ModelOptions& options,
                        const std::string& default_environment);

struct RangeOptions {
  std::string from;  // text, see ParseTimeArg; empty: not given
  std::string to;
  absl::Duration since = absl::ZeroDuration();  // zero: not given
};

// A range resolved against now; unset ends take the command's default.
struct Range {
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;
};

// --from, --to and --since; `what` says what the range selects and
// `defaults` what an omitted range means (both for the help).
void AddRangeOptions(CLI::App* app, RangeOptions* options,
                     const std::string& what, const std::string& defaults);

// --since D gives [now - D, unset]; --from/--to give what they say. Usage
// error when --since comes with --from or --to (also from the environment or
// a config file).
absl::StatusOr<Range> ResolveRange(const RangeOptions& options, absl::Time now);

}  // namespace aims::ctl

#endif  // AIMS_CTL_ARGUMENTS_H_

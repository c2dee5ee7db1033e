#include "ctl/arguments.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/call.h"

namespace aims::ctl {
namespace {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
constexpr double kMinUnixSeconds = -62135596800.0;
constexpr double kMaxUnixSeconds = 253402300799.0;

// CLI11 validators report problems as text; "" is fine.
std::string Problem(const absl::Status& status) {
  return status.ok() ? "" : std::string(status.message());
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationArg(absl::string_view text) {
  absl::Duration d;
  double days = 0;
  // Days as the monitoring plan writes them (window: 7d); absl has none.
  if (text.size() > 1 && text.back() == 'd' &&
      absl::SimpleAtod(text.substr(0, text.size() - 1), &days) &&
      std::isfinite(days)) {
    d = absl::Hours(24) * days;
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a duration such as 90s, 10m, 1h30m or 7d"));
  }
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' must be finite and not negative"));
  }
  return d;
}

absl::StatusOr<absl::Time> ParseTimeArg(absl::string_view text) {
  absl::Time t;
  double seconds = 0;
  std::string err;
  if (absl::SimpleAtod(text, &seconds)) {
    // google.protobuf.Timestamp's range; NaN fails the test too.
    if (!(seconds >= kMinUnixSeconds && seconds <= kMaxUnixSeconds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "' is out of range (Unix seconds of years 1 to 9999)"));
    }
    return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
  }
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text,
                   "' is not RFC 3339 (2026-11-01T00:00:00Z), a date "
                   "(2026-11-01) or Unix seconds"));
}

CLI::Option* AddDurationOption(CLI::App* app, const std::string& name,
                               absl::Duration* target,
                               const std::string& help) {
  const std::string default_text = absl::FormatDuration(*target);
  return app
      ->add_option_function<std::string>(
          name,
          [target](const std::string& text) {
            // Checked below before this runs.
            *target = ParseDurationArg(text).value_or(*target);
          },
          help)
      ->check([](const std::string& text) {
        return Problem(ParseDurationArg(text).status());
      })
      ->type_name("DURATION")
      ->default_str(default_text == "0" ? "" : default_text);
}

CLI::Option* AddTimeOption(CLI::App* app, const std::string& name,
                           std::string* target, const std::string& help) {
  return app->add_option(name, *target, help)
      ->check([](const std::string& text) {
        return Problem(ParseTimeArg(text).status());
      })
      ->type_name("TIME");
}

CLI::Validator OneOf(std::vector<std::string> allowed,
                     const std::string& choices) {
  const std::string list =
      choices.empty() ? absl::StrCat("one of ", absl::StrJoin(allowed, ", "))
                      : choices;
  return CLI::Validator(
      [allowed = std::move(allowed), list](std::string& text) -> std::string {
        if (std::find(allowed.begin(), allowed.end(), text) != allowed.end()) {
          return "";
        }
        return absl::StrCat("'", text, "' is not ", list);
      },
      "");
}

void AddModelOptions(CLI::App* app, ModelOptions* options, ModelUse use,
                     const std::string& default_environment) {
  const bool required = use == ModelUse::kRequired;
  app->add_option("--model", options->model,
                  required ? "Model name (required)." : "Only this model.")
      ->type_name("NAME");
  app->add_option(
         "--version", options->version,
         required ? "Model version (required)." : "Only this model version.")
      ->type_name("VERSION");
  app->add_option("--environment", options->environment,
                  required ? absl::StrCat("Model environment (default: '",
                                          default_environment, "').")
                           : "Only this environment (default: any).")
      ->type_name("ENV");
}

absl::Status RequireModel(const ModelOptions& options,
                          absl::string_view default_environment) {
  if (!options.model.empty() && !options.version.empty()) {
    return absl::OkStatus();
  }
  return UsageError(absl::StrCat(
      "--model and --version are required (--environment defaults to '",
      default_environment, "')"));
}

v1::ModelSelector SelectorOf(const ModelOptions& options) {
  v1::ModelSelector selector;
  selector.set_name(options.model);
  selector.set_version(options.version);
  selector.set_environment(options.environment);
  return selector;
}

v1::ModelRef ModelRefOf(const ModelOptions& options,
                        const std::string& default_environment) {
  v1::ModelRef model;
  model.set_name(options.model);
  model.set_version(options.version);
  model.set_environment(options.environment.empty() ? default_environment
                                                    : options.environment);
  return model;
}

void AddRangeOptions(CLI::App* app, RangeOptions* options,
                     const std::string& what, const std::string& defaults) {
  CLI::Option* from = AddTimeOption(
      app, "--from", &options->from,
      absl::StrCat("Start of ", what,
                   ": RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01, "
                   "midnight UTC) or Unix seconds."));
  CLI::Option* to =
      AddTimeOption(app, "--to", &options->to,
                    absl::StrCat("End of ", what, ", in the same forms."));
  CLI::Option* since = AddDurationOption(
      app, "--since", &options->since,
      absl::StrCat("Instead of --from and --to (not with them): ", what,
                   " is the last DURATION up to now, e.g. 15m, 24h, 7d. ",
                   defaults));
  since
      ->check([](const std::string& text) -> std::string {
        absl::StatusOr<absl::Duration> d = ParseDurationArg(text);
        return d.ok() && *d == absl::ZeroDuration() ? "must be longer than 0"
                                                    : "";
      })
      ->excludes(from)
      ->excludes(to);
}

absl::StatusOr<Range> ResolveRange(const RangeOptions& options,
                                   absl::Time now) {
  Range range;
  if (options.since > absl::ZeroDuration()) {
    if (!options.from.empty() || !options.to.empty()) {
      return UsageError(
          "--since cannot be combined with --from or --to (--since D means "
          "from D ago up to now)");
    }
    range.from = now - options.since;
    return range;
  }
  if (!options.from.empty()) {
    absl::StatusOr<absl::Time> from = ParseTimeArg(options.from);
    if (!from.ok()) {
      return UsageError(absl::StrCat("--from: ", from.status().message()));
    }
    range.from = *from;
  }
  if (!options.to.empty()) {
    absl::StatusOr<absl::Time> to = ParseTimeArg(options.to);
    if (!to.ok()) {
      return UsageError(absl::StrCat("--to: ", to.status().message()));
    }
    range.to = *to;
  }
  return range;
}

}  // namespace aims::ctl

#include "ctl/option_sources.h"

#include <fstream>
#include <set>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ctl/call.h"

namespace aims::ctl {
namespace {

// A value and where it came from ("AIMS_SINCE", "aims.conf:3").
struct Setting {
  std::string value;
  std::string where;
};

// Options that the environment and a config file may set: named ones,
// except --help and --config itself.
bool Settable(const CLI::Option& option) {
  if (option.get_lnames().empty() || !option.get_configurable()) return false;
  const std::string& name = option.get_lnames().front();
  return name != "help" && name != "config";
}

void CollectNames(const CLI::App& app, std::set<std::string>* names) {
  for (const CLI::Option* option : app.get_options()) {
    if (Settable(*option)) names->insert(option->get_lnames().front());
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App*) { return true; })) {
    CollectNames(*sub, names);
  }
}

// `name = value` lines; the last line of a name wins, as on a command line.
absl::StatusOr<std::map<std::string, Setting>> ReadConfigFile(
    const std::string& path, const std::set<std::string>& known) {
  std::ifstream in(path);
  if (!in) return UsageError(absl::StrCat("--config: cannot read ", path));
  std::map<std::string, Setting> settings;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = absl::StrCat(path, ":", number);
    absl::string_view text = line;
    if (size_t hash = text.find('#'); hash != absl::string_view::npos) {
      text = text.substr(0, hash);
    }
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos) {
      return UsageError(absl::StrCat(where, ": expected 'name = value'"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(text.substr(0, eq));
    absl::ConsumePrefix(&key, "--");
    const std::string name(key);
    if (known.count(name) == 0) {
      return UsageError(absl::StrCat(
          where, ": unknown setting '", name,
          "' (see aimsctl --help and aimsctl COMMAND --help for the names)"));
    }
    settings[name] = {
        std::string(absl::StripAsciiWhitespace(text.substr(eq + 1))), where};
  }
  return settings;
}

// True when an option that excludes `option` is already set.
bool Excluded(const CLI::Option& option) {
  for (const CLI::Option* other : option.get_excludes()) {
    if (other->count() > 0) return true;
  }
  return false;
}

absl::Status Apply(CLI::Option* option, const Setting& setting) {
  try {
    option->add_result(setting.value);
    option->run_callback();
  } catch (const CLI::ParseError& e) {
    return UsageError(absl::StrCat(setting.where, ": ", e.what()));
  }
  return absl::OkStatus();
}

// One source over the options of `path`: each unset option whose value
// `lookup` finds.
template <typename Lookup>
absl::Status ApplySource(const std::vector<CLI::App*>& path, Lookup lookup) {
  for (CLI::App* app : path) {
    for (CLI::Option* option : app->get_options()) {
      if (!Settable(*option) || option->count() > 0 || Excluded(*option)) {
        continue;
      }
      const Setting* setting = lookup(*option);
      if (setting == nullptr || setting->value.empty()) continue;
      if (absl::Status s = Apply(option, *setting); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string EnvironmentName(const CLI::Option& option) {
  return absl::StrCat("AIMS_",
                      absl::AsciiStrToUpper(option.get_lnames().front()));
}

absl::Status ApplyOptionSources(
    const CLI::App& root, const std::vector<CLI::App*>& path,
    const std::map<std::string, std::string>& environment,
    const std::string& config_file) {
  Setting from_environment;
  absl::Status status =
      ApplySource(path, [&](const CLI::Option& option) -> const Setting* {
        const std::string name = EnvironmentName(option);
        auto it = environment.find(name);
        if (it == environment.end()) return nullptr;
        from_environment = {it->second, name};
        return &from_environment;
      });
  if (!status.ok() || config_file.empty()) return status;
  std::set<std::string> known;
  CollectNames(root, &known);
  absl::StatusOr<std::map<std::string, Setting>> settings =
      ReadConfigFile(config_file, known);
  if (!settings.ok()) return settings.status();
  return ApplySource(path, [&](const CLI::Option& option) -> const Setting* {
    auto it = settings->find(option.get_lnames().front());
    return it == settings->end() ? nullptr : &it->second;
  });
}

}  // namespace aims::ctl

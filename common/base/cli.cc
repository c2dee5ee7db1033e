#include "common/base/cli.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

ABSL_FLAG(std::string, config, "",
          "Config file: 'name = value' lines for this binary's flags. "
          "Command-line flags override environment variables (AIMS_<NAME>), "
          "which override the file. Also AIMS_CONFIG.");

extern char** environ;

namespace aims {
namespace {

bool IsOwnFlagFile(absl::string_view path) {
  return absl::EndsWith(path, "main.cc") ||
         absl::EndsWith(path, "common/base/cli.cc");
}

std::string EnvName(const std::string& flag) {
  return absl::StrCat("AIMS_", absl::AsciiStrToUpper(flag));
}

// The value of --config from argv, if given there.
std::string ConfigFromArgv(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (absl::ConsumePrefix(&arg, "--config=") ||
        absl::ConsumePrefix(&arg, "-config=")) {
      return std::string(arg);
    }
    if ((arg == "--config" || arg == "-config") && i + 1 < argc)
      return argv[i + 1];
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ConfigArguments(
    const std::vector<std::string>& flag_names, const std::string& config_file,
    const std::map<std::string, std::string>& environment) {
  std::vector<std::string> args;
  auto known = [&](const std::string& name) {
    for (const std::string& f : flag_names) {
      if (f == name) return true;
    }
    return false;
  };
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("--config: cannot read ", config_file));
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      absl::string_view text = line;
      if (size_t hash = text.find('#'); hash != absl::string_view::npos) {
        text = text.substr(0, hash);
      }
      text = absl::StripAsciiWhitespace(text);
      if (text.empty()) continue;
      const size_t eq = text.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            config_file, ":", number, ": expected 'name = value'"));
      }
      absl::string_view key = absl::StripAsciiWhitespace(text.substr(0, eq));
      absl::ConsumePrefix(&key, "--");
      const std::string name(key);
      const std::string value(absl::StripAsciiWhitespace(text.substr(eq + 1)));
      if (!known(name) || name == "config") {
        return absl::InvalidArgumentError(
            absl::StrCat(config_file, ":", number, ": unknown setting '", name,
                         "' (see --help for the names)"));
      }
      args.push_back(absl::StrCat("--", name, "=", value));
    }
  }
  for (const std::string& name : flag_names) {
    if (name == "config") continue;
    auto it = environment.find(EnvName(name));
    if (it != environment.end())
      args.push_back(absl::StrCat("--", name, "=", it->second));
  }
  return args;
}

std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          const std::string& usage) {
  absl::FlagsUsageConfig config;
  // Our flags live in each binary's main.cc (and --config here); absl's own
  // are in --helpfull.
  config.contains_help_flags = IsOwnFlagFile;
  config.contains_helpshort_flags = IsOwnFlagFile;
  config.version_string = [] { return std::string("aims 0.1.0\n"); };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);

  std::vector<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsOwnFlagFile(flag->Filename())) names.emplace_back(name);
  }
  std::map<std::string, std::string> environment;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry = *e;
    if (!absl::StartsWith(entry, "AIMS_")) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    environment[std::string(entry.substr(0, eq))] =
        std::string(entry.substr(eq + 1));
  }
  std::string config_file = ConfigFromArgv(argc, argv);
  if (config_file.empty() && environment.count("AIMS_CONFIG")) {
    config_file = environment["AIMS_CONFIG"];
  }
  absl::StatusOr<std::vector<std::string>> extra =
      ConfigArguments(names, config_file, environment);
  if (!extra.ok()) {
    std::cerr << argv[0] << ": " << extra.status().message() << "\n";
    std::exit(2);
  }
  // absl keeps the last value of a flag: file, then environment, then the
  // real command line.
  std::vector<std::string> storage;
  storage.push_back(argv[0]);
  for (std::string& a : *extra) storage.push_back(std::move(a));
  for (int i = 1; i < argc; ++i) storage.push_back(argv[i]);
  std::vector<char*> merged;
  for (std::string& s : storage) merged.push_back(s.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(merged.size()), merged.data());
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

}  // namespace aims

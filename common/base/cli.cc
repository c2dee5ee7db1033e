#include "common/base/cli.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

ABSL_FLAG(std::string, config, "",
          "Config file: 'name = value' lines for this binary's flags. "
          "Command-line flags override environment variables (AIMS_<NAME>), "
          "which override the file. Also AIMS_CONFIG.");

extern char** environ;

namespace aims {
namespace {

// The program's name in messages; set by ParseCommandLine.
std::string& ProgramName() {
  static std::string* name = new std::string("aims");
  return *name;
}

// A flag of aims (the binary's main, --config here, the --http_* flags,
// a bench tool's file) rather than one of absl's own.
bool IsOwnFlagFile(absl::string_view path) {
  return !absl::StartsWith(path, "absl/") && !absl::StrContains(path, "/absl/");
}

// Where the source tree was on the build machine ("/home/x/aims/"): this
// file's path as the compiler saw it, without its place in the tree.
absl::string_view SourceRoot() {
  absl::string_view file = __FILE__;
  if (!absl::ConsumeSuffix(&file, "common/base/cli.cc")) return "";
  return file;
}

// A flag's file for help texts: relative to the source tree, so that help
// (and docs/config-reference.md made from it) does not depend on where the
// binary was built.
std::string SourceRelative(absl::string_view path) {
  if (!SourceRoot().empty()) absl::ConsumePrefix(&path, SourceRoot());
  while (absl::ConsumePrefix(&path, "/") || absl::ConsumePrefix(&path, "./") ||
         absl::ConsumePrefix(&path, "../")) {
  }
  return std::string(path);
}

// absl's help without its "  Flags from <file>:" headings: which file
// defines a flag is the build's business, and the names were paths.
std::string WithoutFileHeadings(absl::string_view help) {
  std::string out;
  bool blank = false;  // the last line kept was empty
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::StartsWith(line, "  Flags from ") && absl::EndsWith(line, ":")) {
      continue;
    }
    if (line.empty() && blank) continue;  // one blank line between groups
    blank = line.empty();
    absl::StrAppend(&out, line, "\n");
  }
  out.pop_back();  // StrSplit's last piece had no newline
  return out;
}

// absl's usage flags: not registered flags, recognised by name when no
// flag has it (a binary may define its own --version).
bool IsUsageFlag(absl::string_view name) {
  for (absl::string_view usage :
       {"help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
        "version", "only_check_args"}) {
    if (name == usage) return true;
  }
  return false;
}

template <typename T>
bool ParsesAs(absl::string_view text, std::string* error) {
  T value;
  return absl::ParseFlag(text, &value, error);
}

// Whether `text` is a value of `flag`, parsed into a scratch value rather
// than the flag (absl::FlagSaver would log each flag it restores). Types no
// aims flag has are left to absl's own parse.
bool ParsesAs(const absl::CommandLineFlag& flag, absl::string_view text,
              std::string* error) {
  if (flag.IsOfType<bool>()) return ParsesAs<bool>(text, error);
  if (flag.IsOfType<int32_t>()) return ParsesAs<int32_t>(text, error);
  if (flag.IsOfType<int64_t>()) return ParsesAs<int64_t>(text, error);
  if (flag.IsOfType<uint32_t>()) return ParsesAs<uint32_t>(text, error);
  if (flag.IsOfType<uint64_t>()) return ParsesAs<uint64_t>(text, error);
  if (flag.IsOfType<double>()) return ParsesAs<double>(text, error);
  if (flag.IsOfType<absl::Duration>()) {
    return ParsesAs<absl::Duration>(text, error);
  }
  return true;  // strings and lists of them take any text
}

std::string EnvName(const std::string& flag) {
  return absl::StrCat("AIMS_", absl::AsciiStrToUpper(flag));
}

// The process's AIMS_* variables.
std::map<std::string, std::string> AimsEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry = *e;
    if (!absl::StartsWith(entry, "AIMS_")) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    environment[std::string(entry.substr(0, eq))] =
        std::string(entry.substr(eq + 1));
  }
  return environment;
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

[[noreturn]] void ExitUsage(absl::string_view message) {
  std::cerr << ProgramName() << ": " << message << "\n";
  std::exit(kExitUsage);
}

}  // namespace

absl::Status CheckArguments(const std::vector<std::string>& args) {
  std::vector<std::string> unknown;
  std::vector<std::string> undefok;
  for (size_t i = 1; i < args.size(); ++i) {
    // As absl: "-x" and "--x" are flags, "-" and other words positional,
    // "--" ends the flags.
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "-") || arg.empty()) continue;
    absl::ConsumePrefix(&arg, "-");
    if (arg.empty()) break;
    const size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    const bool has_value = eq != absl::string_view::npos;
    absl::string_view value = has_value ? arg.substr(eq + 1) : "";
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negative = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      negative = flag != nullptr;
    }
    if (flag == nullptr || (negative && !flag->IsOfType<bool>())) {
      if (!IsUsageFlag(name)) unknown.emplace_back(name);
      continue;
    }
    if (flag->IsOfType<bool>()) {
      if (negative && has_value) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": takes no value (--", flag->Name(),
                         "=false is the same)"));
      }
      if (has_value && value.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, "=: missing value (true or false)"));
      }
      if (!has_value) value = negative ? "false" : "true";
    } else if (!has_value) {
      // "--name value"
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": missing value"));
      }
      value = args[++i];
    }
    if (name == "undefok") {
      for (absl::string_view n : absl::StrSplit(value, ',', absl::SkipEmpty()))
        undefok.emplace_back(n);
      continue;
    }
    if (std::string error; !ParsesAs(*flag, value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag->Name(), ": '", value, "' is not a valid value",
          error.empty() ? "" : absl::StrCat(" (", error, ")")));
    }
  }
  for (const std::string& name : unknown) {
    absl::string_view positive = name;
    absl::ConsumePrefix(&positive, "no");
    bool excused = false;
    for (const std::string& ok : undefok)
      excused |= ok == name || ok == positive;
    if (excused) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": unknown flag (--help lists them)"));
  }
  return absl::OkStatus();
}

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
  absl::string_view program = argv[0];
  program.remove_prefix(program.rfind('/') + 1);  // npos + 1 == 0
  ProgramName() = std::string(program);
  absl::FlagsUsageConfig config;
  // Our flags live in each binary's main.cc (and --config here); absl's own
  // are in --helpfull.
  config.contains_help_flags = IsOwnFlagFile;
  config.contains_helpshort_flags = IsOwnFlagFile;
  config.normalize_filename = SourceRelative;
  config.version_string = [] { return std::string("aims 0.1.0\n"); };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);

  std::vector<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsOwnFlagFile(flag->Filename())) names.emplace_back(name);
  }
  std::map<std::string, std::string> environment = AimsEnvironment();
  std::string config_file = ConfigFromArgv(argc, argv);
  if (config_file.empty() && environment.count("AIMS_CONFIG")) {
    config_file = environment["AIMS_CONFIG"];
  }
  absl::StatusOr<std::vector<std::string>> extra =
      ConfigArguments(names, config_file, environment);
  if (!extra.ok()) ExitUsage(extra.status().message());
  // absl keeps the last value of a flag: file, then environment, then the
  // real command line.
  std::vector<std::string> storage = {argv[0]};
  storage.insert(storage.end(), extra->begin(), extra->end());
  if (absl::Status s = CheckArguments(storage); !s.ok()) {
    ExitUsage(absl::StrCat(s.message(), " (set by an AIMS_* variable",
                           config_file.empty() ? "" : " or in ", config_file,
                           ")"));
  }
  for (int i = 1; i < argc; ++i) storage.push_back(argv[i]);
  // Checked before absl parses: absl would exit 1 with its own message.
  if (absl::Status s = CheckArguments(storage); !s.ok()) {
    ExitUsage(s.message());
  }
  std::vector<char*> merged;
  for (std::string& s : storage) merged.push_back(s.data());
  // absl sets the flags (and reads --flagfile and friends). Its public
  // ParseCommandLine would also print --help and exit 1; the same parse
  // without usage handling leaves that to us.
  namespace fi = absl::flags_internal;
  std::vector<char*> positional = fi::ParseCommandLineImpl(
      static_cast<int>(merged.size()), merged.data(),
      fi::ArgvListAction::kRemoveParsedArgs, fi::UsageFlagsAction::kIgnoreUsage,
      fi::OnUndefinedFlag::kAbortIfUndefined);
  std::ostringstream help;
  if (fi::HandleUsageFlags(help, absl::ProgramUsageMessage()) != -1) {
    std::cout << WithoutFileHeadings(help.str());
    std::cout.flush();
    std::exit(0);
  }
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

int OptionsError(const absl::Status& status) {
  std::cerr << ProgramName() << ": " << status.message() << "\n";
  return status.code() == absl::StatusCode::kFailedPrecondition ? kExitFailure
                                                                : kExitUsage;
}

std::string FlagDuration(absl::Duration d) {
  return d == absl::ZeroDuration() ? "0s" : absl::FormatDuration(d);
}

absl::Status CheckRange(absl::string_view flag, int64_t value, int64_t min,
                        int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", value, ", must be ", min, "..", max));
}

absl::Status CheckAtLeast(absl::string_view flag, int64_t value, int64_t min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", value, ", must be at least ", min));
}

absl::Status CheckRange(absl::string_view flag, absl::Duration value,
                        absl::Duration min, absl::Duration max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", FlagDuration(value), ", must be ",
                   FlagDuration(min), "..", FlagDuration(max)));
}

absl::Status CheckAtLeast(absl::string_view flag, absl::Duration value,
                          absl::Duration min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", FlagDuration(value), ", must ",
                   min == absl::ZeroDuration()
                       ? "not be negative"
                       : absl::StrCat("be at least ", FlagDuration(min))));
}

}  // namespace aims

#include "ctl/ctl.h"

#include <pwd.h>
#include <unistd.h>

#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/net/bearer_token.h"
#include "common/net/tls.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/help_formatter.h"
#include "ctl/option_sources.h"
#include "grpcpp/grpcpp.h"

extern char** environ;

namespace aims::ctl {
namespace {

constexpr char kDescription[] =
    "aimsctl: ask an aims-collector about models, agents, metrics, "
    "objectives, nonconformities and the audit trail, and work "
    "nonconformities through their ISO/IEC 42001 clause 10.2 steps.";

constexpr char kFooter[] =
    "The options above are global: they go before or after the command "
    "(aimsctl --collector=H:P nc list, or aimsctl nc list --collector=H:P). "
    "'aimsctl COMMAND --help' lists a command's own options.\n\n"
    "Every option can also be set as AIMS_<OPTION> in the environment "
    "(AIMS_COLLECTOR, AIMS_TOKEN_FILE, AIMS_SINCE, ...) or as 'name = value' "
    "lines in --config=FILE (or AIMS_CONFIG); the command line wins, then "
    "the environment, then the file.\n\n"
    "Times: RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01, midnight "
    "UTC) or Unix seconds. Durations: 90s, 10m, 1h30m, 7d.\n\n"
    "Exit codes: 0 ok, 1 collector error or unreachable (or a refused nc "
    "step), 2 usage error, 3 audit trail broken.";

// Global options: the collector to ask and how, and the output.
struct GlobalOptions {
  CallOptions call;
  TlsClientFiles tls;
  std::string token_file;
  std::string config;
};

void AddGlobalOptions(CLI::App* app, GlobalOptions* g) {
  app->add_option("--collector", g->call.collector,
                  "gRPC address of the aims-collector to ask.")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app->add_flag("--json", g->call.json,
                "Print the collector's answer as JSON (proto3 field names) "
                "instead of a table.");
  AddDurationOption(app, "--timeout", &g->call.timeout,
                    "Deadline of each call to the collector.");
  app->add_option("--ca_file", g->tls.ca_file,
                  "TLS: CA certificate (PEM) the collector's certificate "
                  "must be signed by. Empty: plaintext (the collector "
                  "allows it on loopback, or with --allow_plaintext).")
      ->type_name("FILE");
  app->add_option("--cert_file", g->tls.cert_file,
                  "mTLS: this client's certificate (PEM), for a collector "
                  "started with --tls_client_ca_file.")
      ->type_name("FILE");
  app->add_option("--key_file", g->tls.key_file,
                  "mTLS: the key of --cert_file (PEM).")
      ->type_name("FILE");
  app->add_option("--server_name", g->tls.server_name,
                  "TLS: name to verify in the collector's certificate "
                  "instead of the host of --collector.")
      ->type_name("NAME");
  app->add_option("--token_file", g->token_file,
                  "File holding the bearer token for a collector with "
                  "--auth_tokens_file.")
      ->type_name("FILE");
  app->add_option("--config", g->config,
                  "'name = value' lines for any option (default: "
                  "$AIMS_CONFIG).")
      ->type_name("FILE");
}

// The subcommands selected by the parse, root first.
std::vector<CLI::App*> SelectedPath(CLI::App* root) {
  std::vector<CLI::App*> path = {root};
  while (!path.back()->get_subcommands().empty()) {
    path.push_back(path.back()->get_subcommands().front());
  }
  return path;
}

// "aimsctl nc list".
std::string CommandName(const std::vector<CLI::App*>& path) {
  std::vector<std::string> names;
  for (const CLI::App* app : path) names.push_back(app->get_name());
  return absl::StrJoin(names, " ");
}

std::string SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub :
       app->get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return absl::StrJoin(names, ", ");
}

// A parse error as one message naming the command and the option, and
// where to read more.
std::string UsageMessage(CLI::App* root, const CLI::ParseError& e) {
  const std::vector<CLI::App*> path = SelectedPath(root);
  const CLI::App* last = path.back();
  std::string what = e.what();
  const std::vector<std::string> extra = root->remaining(true);
  const bool has_subcommands =
      !last->get_subcommands([](const CLI::App*) { return true; }).empty();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !extra.empty()) {
    const std::string option = extra.front().substr(0, extra.front().find('='));
    what = absl::StrCat(absl::StartsWith(option, "-") ? "unknown option '"
                                                      : "unexpected argument '",
                        extra.front(), "'");
    // aimsctl used to take every option before the command too.
    if (absl::StartsWith(option, "--") && path.size() > 1 &&
        last->get_option_no_throw(option) != nullptr) {
      what = absl::StrCat(option, " is an option of '", CommandName(path),
                          "': give it after the command");
    }
  }
  // A command is missing or unknown where the app expects one.
  if (has_subcommands) {
    if (!extra.empty() && !absl::StartsWith(extra.front(), "-")) {
      what = absl::StrCat("unknown command '", extra.front(), "' (expected ",
                          SubcommandNames(last), ")");
    } else if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
               absl::StrContains(what, "subcommand")) {
      what = path.size() == 1
                 ? absl::StrCat("no command given (expected ",
                                SubcommandNames(last), ")")
                 : absl::StrCat("expected one of ", SubcommandNames(last));
    }
  }
  const std::string name = CommandName(path);
  return absl::StrCat(name, ": ", what, "\nRun '", name,
                      " --help' for the options.\n");
}

// The channel and identity for the handlers.
absl::Status Connect(const GlobalOptions& global, const Environment& env,
                     CallOptions* call) {
  *call = global.call;
  if (env.channel != nullptr) {
    call->channel = env.channel;
    return absl::OkStatus();
  }
  // With a token the collector knows who acts; $USER could differ.
  if (global.token_file.empty()) {
    call->actor_required = true;
    const auto user = env.variables.find("USER");
    call->local_user = user != env.variables.end() && !user->second.empty()
                           ? user->second
                           : env.os_user;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(global.tls, "");
  if (!credentials.ok()) return UsageError(credentials.status().message());
  grpc::ChannelArguments args;
  ApplyServerName(global.tls, &args);
  std::string token;
  if (!global.token_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadTokenFile(global.token_file, "token_file");
    if (!read.ok()) return UsageError(read.status().message());
    token = *read;
  }
  call->channel = WithBearerToken(call->collector, *credentials, args, token);
  return absl::OkStatus();
}

void BuildApp(CLI::App* app, GlobalOptions* global, CommandTable* commands) {
  app->formatter(NewHelpFormatter());
  app->footer(kFooter);
  // Global options are also taken after the command.
  app->fallthrough();
  app->require_subcommand(1);
  AddGlobalOptions(app, global);
  AddQueryCommands(app, commands);
  AddNcCommands(app, commands);
  AddPlanAuditCommands(app, commands);
  AddReportCommand(app, commands);
  AddProfileCommands(app, commands);
  AddTokenCommand(app, commands);
  AddBackfillCommand(app, commands);
}

// Parses `args` into `app`: nothing to run the command, else the exit code
// after --help (on `out`) or a usage error (on `err`) has been printed.
std::optional<int> Parse(const std::vector<std::string>& args, CLI::App* app,
                         std::ostream& out, std::ostream& err) {
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app->help();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    err << UsageMessage(app, e);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const absl::string_view entry = *e;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view name = entry.substr(0, eq);
    if (absl::StartsWith(name, "AIMS_") || name == "USER") {
      env.variables[std::string(name)] = std::string(entry.substr(eq + 1));
    }
  }
  // Containers and `kubectl exec` often run without $USER.
  if (const struct passwd* pw = getpwuid(geteuid());
      pw != nullptr && pw->pw_name != nullptr) {
    env.os_user = pw->pw_name;
  }
  return env;
}

int RunCommandLine(const std::vector<std::string>& args, const Environment& env,
                   std::ostream& out, std::ostream& err) {
  CLI::App app(kDescription, "aimsctl");
  GlobalOptions global;
  CommandTable commands;
  BuildApp(&app, &global, &commands);
  if (std::optional<int> code = Parse(args, &app, out, err)) return *code;
  const std::vector<CLI::App*> path = SelectedPath(&app);
  const Handler* handler = commands.Find(path.back());
  std::string config = global.config;
  if (config.empty() && env.variables.count("AIMS_CONFIG") > 0) {
    config = env.variables.at("AIMS_CONFIG");
  }
  absl::Status status = ApplyOptionSources(app, path, env.variables, config);
  CallOptions call;
  if (status.ok() && handler == nullptr) {
    status = UsageError("expected a command");  // require_subcommand ensures
  }
  if (status.ok()) status = Connect(global, env, &call);
  if (status.ok()) status = (*handler)(call, out, err);
  const int code = ExitCode(status);
  if (!status.ok()) {
    err << CommandName(path) << ": " << status.message() << "\n";
  }
  if (code == kExitUsage) {
    err << "Run '" << CommandName(path) << " --help' for the options.\n";
  }
  return code;
}

}  // namespace aims::ctl

// aimsctl's subcommands. Each group file (ctl_query.cc, ctl_profile.cc,
// ctl_nc.cc, ctl_plan_audit.cc, ctl_report.cc, ctl_token.cc, ctl_backfill.cc)
// adds its subcommands to the CLI11 app, each with its own options struct
// (bound to the subcommand's CLI11 options) and its own handler, which
// RunCommandLine runs once the command line is parsed.
//
// Thread-safety: built and used by one RunCommandLine call.
#ifndef AIMS_CTL_COMMANDS_H_
#define AIMS_CTL_COMMANDS_H_

#include <functional>
#include <map>
#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "ctl/call.h"

namespace aims::ctl {

// Runs one subcommand: prints its result on `out`, warnings on `err`, and
// returns its errors (see call.h for their exit codes).
using Handler = std::function<absl::Status(
    const CallOptions& call, std::ostream& out, std::ostream& err)>;

class CommandTable {
 public:
  // The subcommand `name` of `parent`, run by `handler`.
  CLI::App* Add(CLI::App* parent, const std::string& name,
                const std::string& description, Handler handler);
  // A group of subcommands (nc, plan, ...): one of them must follow.
  CLI::App* AddGroup(CLI::App* parent, const std::string& name,
                     const std::string& description);
  // The handler of `app`; null for the root and groups.
  const Handler* Find(const CLI::App* app) const;

 private:
  std::map<const CLI::App*, Handler> handlers_;
};

// models, agents, windows, metrics.
void AddQueryCommands(CLI::App* app, CommandTable* table);
// profile build|put|show.
void AddProfileCommands(CLI::App* app, CommandTable* table);
// objectives, nc list|show|ack|analyse|act|review|close.
void AddNcCommands(CLI::App* app, CommandTable* table);
// plan validate|reload, audit verify|list.
void AddPlanAuditCommands(CLI::App* app, CommandTable* table);
// report.
void AddReportCommand(CLI::App* app, CommandTable* table);
// backfill.
void AddBackfillCommand(CLI::App* app, CommandTable* table);
// token create.
void AddTokenCommand(CLI::App* app, CommandTable* table);

}  // namespace aims::ctl

#endif  // AIMS_CTL_COMMANDS_H_

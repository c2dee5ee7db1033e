// aimsctl's command line as a library, so that tests run it in-process
// against a real collector. `aimsctl --help` and `aimsctl COMMAND --help`
// describe the commands; the command line is parsed with CLI11, each
// subcommand has its own options and handler (ctl/commands.h), and every
// call to the collector goes through ctl/call.h.
//
// Exit codes: 0 ok (also --help, on standard output), 1 the collector
// failed or is unreachable or refused an nc step, 2 usage error (message on
// standard error naming the option), 3 audit trail broken.
//
// Thread-safety: RunCommandLine is reentrant.
#ifndef AIMS_CTL_CTL_H_
#define AIMS_CTL_CTL_H_

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace grpc {
class Channel;
}  // namespace grpc

namespace aims::ctl {

// What aimsctl takes from its process besides the arguments.
struct Environment {
  // Environment variables: AIMS_<OPTION> for any option, AIMS_CONFIG for
  // --config, USER for the default --actor.
  std::map<std::string, std::string> variables;
  // The OS account's name (getpwuid), the default --actor when $USER is
  // empty or unset; empty when the account has none.
  std::string os_user;
  // Tests: a channel to use instead of the one that --collector, the TLS
  // options and --token_file describe. Its creator decides the identity, so
  // --actor has no default with it.
  std::shared_ptr<grpc::Channel> channel;
};

// The AIMS_* and USER variables and the OS account name of this process.
Environment ProcessEnvironment();

// Runs `aimsctl args...` (`args` without the program name) and returns the
// exit code.
int RunCommandLine(const std::vector<std::string>& args, const Environment& env,
                   std::ostream& out, std::ostream& err);

}  // namespace aims::ctl

#endif  // AIMS_CTL_CTL_H_

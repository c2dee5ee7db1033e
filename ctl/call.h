// The one place where aimsctl calls the collector and shows its answer.
//
// Every command that asks the collector goes through Call(): it sets the
// call's deadline (--timeout) and turns a failed call into a status whose
// message names the collector ("collector HOST:PORT: unreachable: ...").
// Show() prints an answer as JSON (ProtoToJson) with --json and as the
// command's table otherwise; CallAndShow() is both, the common case.
//
// Handlers return absl::Status; ExitCode() turns it into aimsctl's exit code
// once, in RunCommandLine: 0 ok, 1 the collector failed, refused or is
// unreachable (or a file cannot be written), 2 usage error (UsageError), 3
// audit trail broken (AuditBrokenError).
//
// Thread-safety: stateless functions; CallOptions is a plain value.
#ifndef AIMS_CTL_CALL_H_
#define AIMS_CTL_CALL_H_

#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/proto_json.h"
#include "grpcpp/grpcpp.h"

namespace aims::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitAuditBroken = 3;

// What every command shares: the connection to the collector (global
// options) and the output choice.
struct CallOptions {
  std::string collector = "127.0.0.1:4317";  // for messages
  std::shared_ptr<grpc::Channel> channel;    // set before handlers run
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);
  // The person running aimsctl ($USER, else the OS account's name) when
  // the channel carries no bearer token; empty with a token, whose name the
  // collector records instead, or when neither name is known.
  std::string local_user;
  // The channel carries no identity (no bearer token), so an nc step must
  // name its actor: --actor or local_user.
  bool actor_required = false;
};

// The actor an nc step sends: `flag` (--actor) when given, else local_user;
// empty (the collector records the token's name) when the channel carries
// an identity. A usage error naming --actor when the step needs an actor
// and none is known ($USER empty or unset and no OS account name, as in
// some containers).
absl::StatusOr<std::string> StepActor(const std::string& flag,
                                      const CallOptions& options);

// The command line or an input file is wrong: exit code 2.
absl::Status UsageError(absl::string_view message);
// The audit trail's hash chain is broken: exit code 3.
absl::Status AuditBrokenError(absl::string_view message);
// 0 for OK, 2 and 3 for the errors above, 1 for every other error.
int ExitCode(const absl::Status& status);

// A failed call, as a status naming the collector.
absl::Status CollectorError(const CallOptions& options,
                            const grpc::Status& status);

// Calls `method` (a unary method of a generated Stub, e.g.
// &v1::QueryService::Stub::ListModels) with the --timeout deadline.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(const CallOptions& options,
                              grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*),
                              const Request& request) {
  Stub stub(options.channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return CollectorError(options, status);
  return response;
}

// Prints `response` as JSON (--json) or with `table(response, out)`.
template <typename Response, typename TableFn>
void Show(const CallOptions& options, const Response& response, TableFn&& table,
          std::ostream& out) {
  if (options.json) {
    out << ProtoToJson(response) << "\n";
  } else {
    std::forward<TableFn>(table)(response, out);
  }
}

// Call() and Show() for commands that only ask and print.
template <typename Stub, typename Request, typename Response, typename TableFn>
absl::Status CallAndShow(const CallOptions& options,
                         grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                      const Request&,
                                                      Response*),
                         const Request& request, TableFn&& table,
                         std::ostream& out) {
  absl::StatusOr<Response> response = Call(options, method, request);
  if (!response.ok()) return response.status();
  Show(options, *response, std::forward<TableFn>(table), out);
  return absl::OkStatus();
}

}  // namespace aims::ctl

#endif  // AIMS_CTL_CALL_H_

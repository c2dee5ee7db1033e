#include "ctl/call.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace aims::ctl {
namespace {

// Status payload carrying the exit code of aimsctl's own errors, so that a
// collector's INVALID_ARGUMENT (exit 1) is not taken for a usage error.
constexpr char kExitCodePayload[] = "type.aims.dev/aimsctl.exit_code";

absl::Status WithExitCode(absl::Status status, int code) {
  status.SetPayload(kExitCodePayload, absl::Cord(absl::StrCat(code)));
  return status;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  return WithExitCode(absl::InvalidArgumentError(message), kExitUsage);
}

absl::Status AuditBrokenError(absl::string_view message) {
  return WithExitCode(absl::DataLossError(message), kExitAuditBroken);
}

int ExitCode(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  auto payload = status.GetPayload(kExitCodePayload);
  int code = 0;
  if (payload.has_value() && absl::SimpleAtoi(payload->Flatten(), &code)) {
    return code;
  }
  return kExitFailed;
}

absl::StatusOr<std::string> StepActor(const std::string& flag,
                                      const CallOptions& options) {
  if (!flag.empty()) return flag;
  if (!options.actor_required || !options.local_user.empty()) {
    return options.local_user;
  }
  return UsageError(
      "--actor: no name for the person taking the step ($USER is empty and "
      "the OS account has no name); give --actor=NAME, or --token_file to "
      "act under a token's name");
}

absl::Status CollectorError(const CallOptions& options,
                            const grpc::Status& status) {
  const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE;
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat("collector ", options.collector, ": ",
                   unreachable ? "unreachable: " : "", status.error_message()));
}

}  // namespace aims::ctl

// Authorizer: who may call which of the collector's APIs.
//
// Callers present a bearer token (common/net/bearer_token.h). The collector's
// tokens file (--auth_tokens_file, YAML) lists, per token, a name, a role
// and the SHA-256 of the token; the token itself is never stored:
//
//   tokens:
//     - name: alice                # written to the audit trail as the actor
//       role: compliance           # agent | viewer | compliance |
//                                  # risk_owner | admin
//       sha256: 9f86d081884c7d65...  # aimsctl token create prints entries
//     - name: fraud-agents
//       role: agent
//       models: [fraud-detector]   # agent tokens: models it may report ("*":
//       any) sha256: ...
//
// Roles and permissions (docs/security.md#tokens-and-roles):
//   agent       kIngest for its models only (and proposing, if absent, the
//               first-events reference profile of those models)
//   viewer      kRead: models, agents, summaries, metrics, profiles,
//               objectives, nonconformities, the audit trail
//   compliance  viewer + kWorkNonconformities (the 10.2 steps, owner, due
//               date, ticket link, marking invalid) + kReport
//   risk_owner  compliance + kAcceptRisk (ending a nonconformity as risk
//               accepted: a management decision kept apart from working it)
//   admin       risk_owner + kAdminister (plan reload, reference profiles)
//               + kLabel
// kLabel (delayed labels posted to the collector's label join) belongs to
// the agent role (for its models only) and admin. Apart from labels an
// agent token may do nothing but ingest; no other role may ingest, so
// evidence can only come from agent identities.
//
// Without a tokens file the authorizer is open: every caller is the
// anonymous principal with every permission (for loopback and tests).
// With one, a missing token is UNAUTHENTICATED, an unknown or tampered one
// UNAUTHENTICATED ("invalid token"), and a known one without the permission
// PERMISSION_DENIED naming its name, role and what it lacks.
//
// The file is re-read by ReloadIfChanged() when its contents change; a file
// that does not validate leaves the tokens in force and returns the error.
//
// Thread-safety: safe; checks take a shared lock.
#ifndef AIMS_COLLECTOR_AUTH_AUTHORIZER_H_
#define AIMS_COLLECTOR_AUTH_AUTHORIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/identity.pb.h"
#include "common/net/bearer_token.h"
#include "prometheus/counter.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace aims::collector {

enum class Role { kAgent, kViewer, kCompliance, kRiskOwner, kAdmin };
enum class Permission {
  kIngest,
  kRead,
  kWorkNonconformities,
  kReport,
  kAcceptRisk,
  kAdminister,
  kLabel  // post delayed labels (agent tokens: for their models only)
};

absl::string_view RoleName(Role role);
absl::string_view PermissionName(Permission permission);
bool RoleHas(Role role, Permission permission);

struct Principal {
  // The token's name; "anonymous" when the authorizer is open.
  std::string name;
  Role role = Role::kAdmin;
  // Agent tokens: models it may report; "*" is any.
  std::vector<std::string> models;
  bool authenticated = false;
};

struct TokenEntry {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> models;
  std::string sha256;
};

// 1..64 of A-Z a-z 0-9 . _ - @.
bool ValidTokenName(absl::string_view name);

// Parses a tokens file's text; errors name the entry and field
// ("tokens[2].role: 'root' is not agent, viewer, compliance, risk_owner or
// admin").
absl::StatusOr<std::vector<TokenEntry>> ParseTokens(absl::string_view yaml);

class Authorizer {
 public:
  // Open: no tokens; every caller may do everything.
  Authorizer() = default;
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromFile(
      const std::string& path);
  static std::unique_ptr<Authorizer> FromEntries(
      std::vector<TokenEntry> entries);

  bool open() const;
  absl::Status ReloadIfChanged();

  // `authorization` is the header's value ("Bearer ..." or empty).
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;
  absl::StatusOr<Principal> Authorize(absl::string_view authorization,
                                      Permission permission) const;
  // Whether an agent principal may report `model`.
  absl::Status CheckModel(const Principal& principal,
                          const v1::ModelRef& model) const;

  // Counters for refusals (aims_collector_auth_failures_total{reason});
  // set before serving.
  void CountFailures(prometheus::Counter* unauthenticated,
                     prometheus::Counter* denied) {
    unauthenticated_ = unauthenticated;
    denied_ = denied;
  }

 private:
  absl::Status Count(absl::Status status) const;

  std::string path_;
  prometheus::Counter* unauthenticated_ = nullptr;
  prometheus::Counter* denied_ = nullptr;
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::string file_text_ ABSL_GUARDED_BY(mu_);
  std::vector<TokenEntry> entries_ ABSL_GUARDED_BY(mu_);
};

// Authorizes a gRPC call by its metadata.
absl::StatusOr<Principal> AuthorizeCall(const Authorizer& authorizer,
                                        const grpc::ServerContextBase& context,
                                        Permission permission);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_AUTH_AUTHORIZER_H_

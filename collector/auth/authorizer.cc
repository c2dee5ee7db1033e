#include "collector/auth/authorizer.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/net/bearer_token.h"
#include "yaml-cpp/yaml.h"

namespace aims::collector {
namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxTokens = 10000;

}  // namespace

bool ValidTokenName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' ||
          c == '@')) {
      return false;
    }
  }
  return true;
}

namespace {

absl::Status FieldError(const std::string& field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<Role> ParseRole(const std::string& text,
                               const std::string& field) {
  if (text == "agent") return Role::kAgent;
  if (text == "viewer") return Role::kViewer;
  if (text == "compliance") return Role::kCompliance;
  if (text == "risk_owner") return Role::kRiskOwner;
  if (text == "admin") return Role::kAdmin;
  return FieldError(field, absl::StrCat("'", text,
                                        "' is not agent, viewer, compliance, "
                                        "risk_owner or admin"));
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensYaml(
    const YAML::Node& root) {
  if (!root.IsMap()) return FieldError("tokens file", "must be a mapping");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "tokens") {
      return FieldError(key, "unknown key (expected 'tokens')");
    }
  }
  const YAML::Node list = root["tokens"];
  if (!list || !list.IsSequence()) {
    return FieldError("tokens", "must be a list of entries");
  }
  if (list.size() > kMaxTokens) {
    return FieldError(
        "tokens", absl::StrCat(list.size(), " entries, limit ", kMaxTokens));
  }
  std::vector<TokenEntry> entries;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> digests;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node node = list[i];
    const std::string at = absl::StrCat("tokens[", i, "]");
    if (!node.IsMap()) return FieldError(at, "must be a mapping");
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (key != "name" && key != "role" && key != "sha256" &&
          key != "models") {
        return FieldError(absl::StrCat(at, ".", key),
                          "unknown key (expected name, role, sha256, models)");
      }
    }
    TokenEntry e;
    if (!node["name"] || !node["name"].IsScalar()) {
      return FieldError(at + ".name", "required");
    }
    e.name = node["name"].as<std::string>();
    if (!ValidTokenName(e.name)) {
      return FieldError(at + ".name",
                        absl::StrCat("'", e.name, "': 1..", kMaxNameBytes,
                                     " of A-Z a-z 0-9 . _ - @"));
    }
    if (!names.insert(e.name).second) {
      return FieldError(at + ".name",
                        absl::StrCat("'", e.name, "' appears twice"));
    }
    if (!node["role"] || !node["role"].IsScalar()) {
      return FieldError(at + ".role", "required");
    }
    absl::StatusOr<Role> role =
        ParseRole(node["role"].as<std::string>(), at + ".role");
    if (!role.ok()) return role.status();
    e.role = *role;
    if (!node["sha256"] || !node["sha256"].IsScalar() ||
        !IsSha256Hex(node["sha256"].as<std::string>())) {
      return FieldError(at + ".sha256",
                        "required: 64 lowercase hex digits (the SHA-256 of "
                        "the token; aimsctl token create prints it)");
    }
    e.sha256 = node["sha256"].as<std::string>();
    if (!digests.insert(e.sha256).second) {
      return FieldError(at + ".sha256", "the same token appears twice");
    }
    if (const YAML::Node models = node["models"]) {
      if (e.role != Role::kAgent) {
        return FieldError(at + ".models", "only agent tokens name models");
      }
      if (!models.IsSequence() || models.size() == 0) {
        return FieldError(at + ".models", "must be a non-empty list");
      }
      for (size_t j = 0; j < models.size(); ++j) {
        if (!models[j].IsScalar() || models[j].as<std::string>().empty()) {
          return FieldError(absl::StrCat(at, ".models[", j, "]"),
                            "must be a model name or '*'");
        }
        e.models.push_back(models[j].as<std::string>());
      }
    } else if (e.role == Role::kAgent) {
      return FieldError(at + ".models",
                        "required for agent tokens (the models it may report, "
                        "or ['*'])");
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent:
      return "agent";
    case Role::kViewer:
      return "viewer";
    case Role::kCompliance:
      return "compliance";
    case Role::kRiskOwner:
      return "risk_owner";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

absl::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kIngest:
      return "ingest";
    case Permission::kRead:
      return "read";
    case Permission::kWorkNonconformities:
      return "work nonconformities";
    case Permission::kReport:
      return "get compliance reports";
    case Permission::kAcceptRisk:
      return "accept the risk of a nonconformity";
    case Permission::kAdminister:
      return "administer (plan, profiles)";
    case Permission::kLabel:
      return "label";
  }
  return "?";
}

bool RoleHas(Role role, Permission permission) {
  switch (permission) {
    case Permission::kIngest:
      return role == Role::kAgent;
    case Permission::kRead:
      return role != Role::kAgent;
    case Permission::kWorkNonconformities:
    case Permission::kReport:
      return role == Role::kCompliance || role == Role::kRiskOwner ||
             role == Role::kAdmin;
    case Permission::kAcceptRisk:
      return role == Role::kRiskOwner || role == Role::kAdmin;
    case Permission::kAdminister:
      return role == Role::kAdmin;
    case Permission::kLabel:
      return role == Role::kAgent || role == Role::kAdmin;
  }
  return false;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokens(absl::string_view yaml) {
  try {
    return ParseTokensYaml(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens file: line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromFile(
    const std::string& path) {
  auto authorizer = std::make_unique<Authorizer>();
  authorizer->path_ = path;
  if (absl::Status s = authorizer->ReloadIfChanged(); !s.ok()) return s;
  return authorizer;
}

std::unique_ptr<Authorizer> Authorizer::FromEntries(
    std::vector<TokenEntry> entries) {
  auto authorizer = std::make_unique<Authorizer>();
  absl::MutexLock lock(&authorizer->mu_);
  authorizer->open_ = false;
  authorizer->entries_ = std::move(entries);
  return authorizer;
}

bool Authorizer::open() const {
  absl::ReaderMutexLock lock(&mu_);
  return open_;
}

absl::Status Authorizer::ReloadIfChanged() {
  if (path_.empty()) return absl::OkStatus();
  std::ifstream in(path_);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_tokens_file: cannot read ", path_));
  }
  std::stringstream text;
  text << in.rdbuf();
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!open_ && text.str() == file_text_) return absl::OkStatus();
  }
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokens(text.str());
  if (!entries.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--auth_tokens_file ", path_, ": ", entries.status().message()));
  }
  absl::MutexLock lock(&mu_);
  open_ = false;
  file_text_ = text.str();
  entries_ = std::move(*entries);
  return absl::OkStatus();
}

absl::StatusOr<Principal> Authorizer::Authenticate(
    absl::string_view authorization) const {
  absl::ReaderMutexLock lock(&mu_);
  if (open_) return Principal{"anonymous", Role::kAdmin, {"*"}, false};
  absl::StatusOr<std::string> token = BearerTokenFrom(authorization);
  if (!token.ok()) return absl::UnauthenticatedError(token.status().message());
  if (token->empty()) {
    return absl::UnauthenticatedError(
        "authorization: a bearer token is required (aimsctl --token_file, "
        "agent --collector_token_file)");
  }
  const std::string digest = TokenSha256(*token);
  const TokenEntry* found = nullptr;
  // Every entry is compared in constant time, so timing does not tell how
  // much of a guess matched.
  for (const TokenEntry& e : entries_) {
    if (SameDigest(e.sha256, digest)) found = &e;
  }
  if (found == nullptr) return absl::UnauthenticatedError("invalid token");
  return Principal{found->name, found->role, found->models, true};
}

absl::StatusOr<Principal> Authorizer::Authorize(absl::string_view authorization,
                                                Permission permission) const {
  absl::StatusOr<Principal> principal = Authenticate(authorization);
  if (!principal.ok()) return Count(principal.status());
  // Open: the anonymous principal may do everything.
  if (principal->authenticated && !RoleHas(principal->role, permission)) {
    return Count(absl::PermissionDeniedError(absl::StrCat(
        "'", principal->name, "' (role ", RoleName(principal->role),
        ") may not ", PermissionName(permission))));
  }
  return principal;
}

absl::Status Authorizer::CheckModel(const Principal& principal,
                                    const v1::ModelRef& model) const {
  for (const std::string& m : principal.models) {
    if (m == "*" || m == model.name()) return absl::OkStatus();
  }
  return Count(absl::PermissionDeniedError(absl::StrCat(
      "'", principal.name, "' may not report model '", model.name(),
      "' (allowed: ", absl::StrJoin(principal.models, ", "), ")")));
}

absl::Status Authorizer::Count(absl::Status status) const {
  prometheus::Counter* counter =
      status.code() == absl::StatusCode::kUnauthenticated ? unauthenticated_
                                                          : denied_;
  if (counter != nullptr) counter->Increment();
  return status;
}

absl::StatusOr<Principal> AuthorizeCall(const Authorizer& authorizer,
                                        const grpc::ServerContextBase& context,
                                        Permission permission) {
  return authorizer.Authorize(AuthorizationOf(context), permission);
}

}  // namespace aims::collector

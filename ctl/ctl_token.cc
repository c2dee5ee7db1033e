// token create: a bearer token for a collector started with
// --auth_tokens_file, made locally (no collector involved): the token is
// printed once, the collector's tokens file gets only its SHA-256.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/auth/authorizer.h"
#include "common/net/bearer_token.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "google/protobuf/struct.pb.h"

namespace aims::ctl {
namespace {

struct TokenCreateOptions {
  std::string name;
  std::string role;
  std::vector<std::string> models;  // agent tokens; empty: *
};

// The token's entry for the collector's --auth_tokens_file. Names are plain
// (checked before), so the YAML needs no escaping.
std::string TokensFileEntry(const TokenCreateOptions& options,
                            const std::string& digest) {
  std::vector<std::string> models = options.models;
  if (options.role == "agent" && models.empty()) models.push_back("*");
  std::string entry = absl::StrCat("  - name: ", options.name,
                                   "\n    role: ", options.role, "\n");
  if (!models.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& m : models) {
      quoted.push_back(absl::StrCat("'", m, "'"));
    }
    absl::StrAppend(&entry, "    models: [", absl::StrJoin(quoted, ", "),
                    "]\n");
  }
  absl::StrAppend(&entry, "    sha256: ", digest, "\n");
  return entry;
}

absl::Status TokenCreate(const CallOptions& call,
                         const TokenCreateOptions& options, std::ostream& out) {
  if (!collector::ValidTokenName(options.name)) {
    return UsageError(absl::StrCat("--name: '", options.name,
                                   "': 1..64 of A-Z a-z 0-9 . _ - @ "
                                   "(required)"));
  }
  if (options.role.empty()) {
    return UsageError(
        "--role: required (agent, viewer, compliance, risk_owner or admin)");
  }
  if (!options.models.empty() && options.role != "agent") {
    return UsageError("--models: only agent tokens name models");
  }
  const std::string token = NewToken();
  const std::string digest = TokenSha256(token);
  if (call.json) {
    google::protobuf::Struct json;
    auto& fields = *json.mutable_fields();
    fields["name"].set_string_value(options.name);
    fields["role"].set_string_value(options.role);
    fields["token"].set_string_value(token);
    fields["sha256"].set_string_value(digest);
    out << ProtoToJson(json) << "\n";
    return absl::OkStatus();
  }
  out << "token (shown once; store it in a file readable only by its "
         "user, e.g. mode 0600):\n  "
      << token
      << "\n\nentry for the collector's --auth_tokens_file (under "
         "'tokens:'):\n"
      << TokensFileEntry(options, digest)
      << "\nagent intake (--intake_token_sha256): " << digest << "\n";
  return absl::OkStatus();
}

}  // namespace

void AddTokenCommand(CLI::App* app, CommandTable* table) {
  CLI::App* token =
      table->AddGroup(app, "token", "Bearer tokens for the collector.");
  auto options = std::make_shared<TokenCreateOptions>();
  CLI::App* sub = table->Add(
      token, "create",
      "A new bearer token (printed once) and its entry for the collector's "
      "--auth_tokens_file; no collector needed.",
      [options](const CallOptions& call, std::ostream& out, std::ostream&) {
        return TokenCreate(call, *options, out);
      });
  sub->add_option("--name", options->name, "The token's name (required).");
  sub->add_option("--role", options->role,
                  "agent, viewer, compliance, risk_owner or admin "
                  "(required).")
      ->check(OneOf({"agent", "viewer", "compliance", "risk_owner", "admin"},
                    "agent, viewer, compliance, risk_owner or admin"));
  sub->add_option("--models", options->models,
                  "Agent tokens: the models it may report, comma-separated "
                  "(default: *).")
      ->delimiter(',')
      ->type_name("MODEL,...");
}

}  // namespace aims::ctl

// plan validate|reload|versions|diff and audit verify|list: the monitoring
// plan checked offline, reloaded by the collector, its versions and their
// differences, and the hash-chained audit trail.
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "collector/plan/names.h"
#include "collector/plan/plan.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/table.h"
#include "google/protobuf/struct.pb.h"

namespace aims::ctl {
namespace {

using Nc = v1::NonconformityService::Stub;

struct PlanValidateOptions {
  std::string file;
};

struct PlanReloadOptions {};

struct PlanVersionsOptions {};

struct PlanDiffOptions {
  std::string from;
  std::string to;
};

struct AuditVerifyOptions {};

struct AuditListOptions {
  uint64_t from_index = 0;
  uint32_t limit = 100;
  std::string member;  // a fleet member's address; "" for the one asked
};

void PrintPlan(const collector::Plan& plan, std::ostream& out) {
  // REVIEW_AFTER: effectiveness_period, before `nc review` is allowed.
  Table table({"ID", "METRIC", "SCOPE", "MUST_HOLD", "WINDOW", "FOR",
               "DECISION", "REVIEW_AFTER", "SEVERITY", "ISO"});
  for (const collector::Objective& o : plan.objectives) {
    std::string scope = o.feature.empty() ? "" : "feature=" + o.feature;
    if (!o.attribute.empty()) {
      scope = o.attribute + (o.group.empty() ? "" : "=" + o.group);
    }
    table.AddRow({o.id, o.metric, scope.empty() ? "*" : scope,
                  absl::StrCat(collector::ComparatorText(o.comparator), " ",
                               o.threshold),
                  absl::FormatDuration(o.window),
                  absl::FormatDuration(o.for_duration),
                  o.decision == collector::Decision::kSequential
                      ? absl::StrCat("sequential ", o.FalseAlarmBudgetText())
                      : collector::DecisionName(o.decision),
                  absl::FormatDuration(o.effectiveness_period),
                  collector::SeverityText(o.severity),
                  absl::StrJoin(o.iso_references, ",")});
  }
  table.Print(out);
}

// Offline: needs no collector. An invalid plan is a usage error (exit 2)
// naming file, line, column and field.
absl::Status PlanValidate(const CallOptions& call,
                          const PlanValidateOptions& options,
                          std::ostream& out) {
  absl::StatusOr<collector::Plan> plan = collector::LoadPlanFile(options.file);
  if (!plan.ok()) return UsageError(plan.status().message());
  if (call.json) {
    google::protobuf::Struct json;
    (*json.mutable_fields())["version"].set_string_value(plan->version);
    (*json.mutable_fields())["objectives"].set_number_value(
        plan->objectives.size());
    out << ProtoToJson(json) << "\n";
    return absl::OkStatus();
  }
  out << options.file << ": valid, version " << plan->version.substr(0, 16)
      << ", " << plan->objectives.size() << " objectives\n";
  PrintPlan(*plan, out);
  return absl::OkStatus();
}

absl::Status PlanReload(const CallOptions& call, const PlanReloadOptions&,
                        std::ostream& out) {
  return CallAndShow(
      call, &Nc::ReloadPlan, v1::ReloadPlanRequest(),
      [](const v1::PlanInfo& info, std::ostream& out) {
        out << "plan " << info.version().substr(0, 16) << " from "
            << info.source() << ": " << info.objectives() << " objectives, "
            << info.unchanged() << " unchanged\n";
      },
      out);
}

absl::Status PlanVersions(const CallOptions& call, const PlanVersionsOptions&,
                          std::ostream& out) {
  return CallAndShow(
      call, &Nc::ListPlanVersions, v1::ListPlanVersionsRequest(),
      [](const v1::ListPlanVersionsResponse& response, std::ostream& out) {
        Table table(
            {"VERSION", "LOADED", "BY", "SOURCE", "OBJECTIVES", "IN_FORCE"});
        for (const v1::PlanVersion& v : response.versions()) {
          table.AddRow({v.version().substr(0, 16), Time(v.loaded_at()),
                        v.actor(), v.source(), absl::StrCat(v.objectives()),
                        v.in_force() ? "yes" : "-"});
        }
        table.Print(out);
      },
      out);
}

// The version whose hash starts with `prefix` (at least 4 hex digits).
absl::StatusOr<const v1::PlanVersion*> FindVersion(
    const v1::ListPlanVersionsResponse& versions, const std::string& prefix) {
  const v1::PlanVersion* found = nullptr;
  for (const v1::PlanVersion& v : versions.versions()) {
    if (prefix.size() < 4 || v.version().compare(0, prefix.size(), prefix))
      continue;
    if (found != nullptr && found->version() != v.version()) {
      return UsageError(
          absl::StrCat("'", prefix, "' names more than one plan version"));
    }
    if (found == nullptr) found = &v;
  }
  if (found == nullptr) {
    return UsageError(absl::StrCat(
        "no plan version starts with '", prefix,
        "' (at least 4 hex digits; aimsctl plan versions lists them)"));
  }
  return found;
}

// A line diff of `a` and `b` (longest common subsequence): "  " kept,
// "- " only in a, "+ " only in b.
void PrintLineDiff(const std::vector<std::string>& a,
                   const std::vector<std::string>& b, std::ostream& out) {
  std::vector<std::vector<int>> lcs(a.size() + 1,
                                    std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1
                               : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out << "  " << a[i++] << "\n";
      ++j;
    } else if (j < b.size() &&
               (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out << "+ " << b[j++] << "\n";
    } else {
      out << "- " << a[i++] << "\n";
    }
  }
}

absl::Status PlanDiff(const CallOptions& call, const PlanDiffOptions& options,
                      std::ostream& out) {
  absl::StatusOr<v1::ListPlanVersionsResponse> versions =
      Call(call, &Nc::ListPlanVersions, v1::ListPlanVersionsRequest());
  if (!versions.ok()) return versions.status();
  absl::StatusOr<const v1::PlanVersion*> from =
      FindVersion(*versions, options.from);
  if (!from.ok()) return from.status();
  absl::StatusOr<const v1::PlanVersion*> to =
      FindVersion(*versions, options.to);
  if (!to.ok()) return to.status();
  constexpr size_t kMaxLines = 20000;
  const std::vector<std::string> a = absl::StrSplit((*from)->text(), '\n');
  const std::vector<std::string> b = absl::StrSplit((*to)->text(), '\n');
  if (a.size() > kMaxLines || b.size() > kMaxLines) {
    return UsageError(absl::StrCat("plans longer than ", kMaxLines,
                                   " lines are not compared"));
  }
  out << "--- " << (*from)->version().substr(0, 16) << " loaded "
      << Time((*from)->loaded_at()) << " by " << (*from)->actor() << "\n"
      << "+++ " << (*to)->version().substr(0, 16) << " loaded "
      << Time((*to)->loaded_at()) << " by " << (*to)->actor() << "\n";
  PrintLineDiff(a, b, out);
  return absl::OkStatus();
}

// One trail's verification, as a line ("" for `who` outside fleet mode).
void PrintVerification(const v1::VerifyAuditResponse& r, const std::string& who,
                       std::ostream& out) {
  const std::string trail =
      who.empty() ? "audit trail" : absl::StrCat("audit trail of ", who);
  if (r.intact()) {
    out << trail << " intact: " << r.records_checked()
        << " records, hash chain verified\n";
  } else {
    out << trail << " BROKEN at record " << r.first_broken_index() << ": "
        << r.detail() << " (" << r.records_checked()
        << " records before it verified)\n";
  }
}

// Exit code 3 (AuditBrokenError) when a chain is broken, after printing
// where; in fleet mode every member's chain is verified, and a member that
// did not answer fails the command (UNAVAILABLE) after the others print.
absl::Status AuditVerify(const CallOptions& call, const AuditVerifyOptions&,
                         std::ostream& out) {
  absl::StatusOr<v1::VerifyAuditResponse> response =
      Call(call, &Nc::VerifyAudit, v1::VerifyAuditRequest());
  if (!response.ok()) return response.status();
  Show(
      call, *response,
      [](const v1::VerifyAuditResponse& r, std::ostream& out) {
        if (r.fleet().empty()) PrintVerification(r, "", out);
        for (const v1::FleetCollector& c : r.fleet()) {
          if (c.answered()) {
            PrintVerification(c.audit(), c.address(), out);
          } else {
            out << "audit trail of " << c.address()
                << " NOT VERIFIED: " << c.error() << "\n";
          }
        }
      },
      out);
  if (response->fleet().empty() && !response->intact()) {
    return AuditBrokenError(absl::StrCat("the audit trail is broken at record ",
                                         response->first_broken_index()));
  }
  std::vector<std::string> broken, silent;
  for (const v1::FleetCollector& c : response->fleet()) {
    if (!c.answered()) {
      silent.push_back(c.address());
    } else if (!c.audit().intact()) {
      broken.push_back(c.address());
    }
  }
  if (!broken.empty()) {
    return AuditBrokenError(
        absl::StrCat("audit trails broken: ", absl::StrJoin(broken, ", ")));
  }
  if (!silent.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "not verified (did not answer): ", absl::StrJoin(silent, ", ")));
  }
  return absl::OkStatus();
}

absl::Status AuditList(const CallOptions& call, const AuditListOptions& options,
                       std::ostream& out) {
  v1::ListAuditRequest request;
  request.set_from_index(options.from_index);
  request.set_limit(options.limit);
  request.set_collector(options.member);
  return CallAndShow(
      call, &Nc::ListAudit, request,
      [](const v1::ListAuditResponse& response, std::ostream& out) {
        if (!response.collector().empty()) {
          out << "audit trail of " << response.collector()
              << " (members: " << absl::StrJoin(response.collectors(), ", ")
              << ")\n";
        }
        Table table({"INDEX", "AT", "ACTOR", "KIND", "BODY", "HASH"});
        for (const v1::AuditRecord& r : response.records()) {
          table.AddRow({absl::StrCat(r.index()), Time(r.at()), r.actor(),
                        r.kind(), r.body(), r.hash().substr(0, 12)});
        }
        table.Print(out);
      },
      out);
}

// A subcommand without options of its own.
template <typename Options, typename Fn>
CLI::App* AddSimple(CLI::App* parent, CommandTable* table,
                    const std::string& name, const std::string& description,
                    Fn fn) {
  return table->Add(parent, name, description,
                    [fn](const CallOptions& call, std::ostream& out,
                         std::ostream&) { return fn(call, Options(), out); });
}

}  // namespace

void AddPlanAuditCommands(CLI::App* app, CommandTable* table) {
  CLI::App* plan = table->AddGroup(
      app, "plan", "The monitoring plan: validate, reload, its versions.");
  auto validate = std::make_shared<PlanValidateOptions>();
  CLI::App* sub = table->Add(
      plan, "validate",
      "Check a monitoring plan file offline (errors name "
      "file:line:column and field) and list its objectives.",
      [validate](const CallOptions& call, std::ostream& out, std::ostream&) {
        return PlanValidate(call, *validate, out);
      });
  sub->add_option("file", validate->file, "The plan (YAML).")
      ->required()
      ->type_name("FILE");
  AddSimple<PlanReloadOptions>(
      plan, table, "reload",
      "Make the collector re-read its --plan file (as SIGHUP does).",
      PlanReload);
  AddSimple<PlanVersionsOptions>(
      plan, table, "versions",
      "Every plan version the collector loaded, newest first, with who "
      "loaded it and when.",
      PlanVersions);
  auto diff = std::make_shared<PlanDiffOptions>();
  sub = table->Add(
      plan, "diff",
      "The lines that differ between two plan versions (hash prefixes of "
      "at least 4 hex digits, as plan versions shows them).",
      [diff](const CallOptions& call, std::ostream& out, std::ostream&) {
        return PlanDiff(call, *diff, out);
      });
  sub->add_option("from", diff->from, "The earlier version.")
      ->required()
      ->type_name("VERSION");
  sub->add_option("to", diff->to, "The later version.")
      ->required()
      ->type_name("VERSION");

  CLI::App* audit =
      table->AddGroup(app, "audit", "The hash-chained audit trail.");
  AddSimple<AuditVerifyOptions>(
      audit, table, "verify",
      "Check the audit trail's hash chain, in fleet mode every "
      "collector's (exit code 3 if one is broken).",
      AuditVerify);
  auto list = std::make_shared<AuditListOptions>();
  sub =
      table->Add(audit, "list", "Audit records, oldest first.",
                 [list](const CallOptions& call, std::ostream& out,
                        std::ostream&) { return AuditList(call, *list, out); });
  sub->add_option("--from_index", list->from_index, "First record index.")
      ->capture_default_str();
  sub->add_option("--limit", list->limit, "Records to show.")
      ->capture_default_str();
  sub->add_option("--member", list->member,
                  "Fleet mode: the address of the collector whose trail to "
                  "list (each keeps its own; the listing names the members). "
                  "Default: the collector asked.")
      ->type_name("HOST:PORT");
}

}  // namespace aims::ctl

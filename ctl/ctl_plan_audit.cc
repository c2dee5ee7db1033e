// plan validate|reload and audit verify|list: the monitoring plan checked
// offline or reloaded by the collector, and the hash-chained audit trail.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

struct AuditVerifyOptions {};

struct AuditListOptions {
  uint64_t from_index = 0;
  uint32_t limit = 100;
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

// Exit code 3 (AuditBrokenError) when the chain is broken, after printing
// where.
absl::Status AuditVerify(const CallOptions& call, const AuditVerifyOptions&,
                         std::ostream& out) {
  absl::StatusOr<v1::VerifyAuditResponse> response =
      Call(call, &Nc::VerifyAudit, v1::VerifyAuditRequest());
  if (!response.ok()) return response.status();
  Show(
      call, *response,
      [](const v1::VerifyAuditResponse& r, std::ostream& out) {
        if (r.intact()) {
          out << "audit trail intact: " << r.records_checked()
              << " records, hash chain verified\n";
        } else {
          out << "audit trail BROKEN at record " << r.first_broken_index()
              << ": " << r.detail() << " (" << r.records_checked()
              << " records before it verified)\n";
        }
      },
      out);
  if (response->intact()) return absl::OkStatus();
  return AuditBrokenError(absl::StrCat("the audit trail is broken at record ",
                                       response->first_broken_index()));
}

absl::Status AuditList(const CallOptions& call, const AuditListOptions& options,
                       std::ostream& out) {
  v1::ListAuditRequest request;
  request.set_from_index(options.from_index);
  request.set_limit(options.limit);
  return CallAndShow(
      call, &Nc::ListAudit, request,
      [](const v1::ListAuditResponse& response, std::ostream& out) {
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
  CLI::App* plan =
      table->AddGroup(app, "plan", "The monitoring plan: validate, reload.");
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

  CLI::App* audit =
      table->AddGroup(app, "audit", "The hash-chained audit trail.");
  AddSimple<AuditVerifyOptions>(
      audit, table, "verify",
      "Check the audit trail's hash chain (exit code 3 if broken).",
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
}

}  // namespace aims::ctl

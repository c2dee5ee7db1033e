// objectives and nc ...: the evaluation state of the monitoring plan's
// objectives, and nonconformities worked through the ISO/IEC 42001 clause
// 10.2 steps (ack, analyse, act, review, close) or ended as invalid or risk
// accepted, with their owner, due date and ticket link.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "collector/plan/names.h"
#include "common/base/time_util.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/table.h"

namespace aims::ctl {
namespace {

using Nc = v1::NonconformityService::Stub;

struct ObjectivesOptions {
  ModelOptions filter;
  std::string objective;
};

struct NcListOptions {
  ModelOptions filter;
  std::string objective;
  std::vector<std::string> stages;
  std::string severity;  // this and above
  std::string owner;
  RangeOptions opened;  // when they were opened
  bool overdue = false;
};

struct NcShowOptions {
  std::string id;
};

// ack, analyse, act, review, close.
struct NcStepOptions {
  std::string id;
  std::string comment;
  std::string actor;  // empty: CallOptions::local_user
};

// accept-risk: a step with its date.
struct NcAcceptOptions {
  NcStepOptions step;
  std::string until;
};

// assign, due, link: an update of one field.
struct NcUpdateOptions {
  std::string id;
  std::string value;
  std::string comment;
  std::string actor;
};

struct Step {
  const char* verb;
  v1::NonconformityStage to;
  const char* description;
};

constexpr std::array<Step, 6> kSteps = {{
    {"ack", v1::NONCONFORMITY_STAGE_ACKNOWLEDGED,
     "10.2 a) react: acknowledge the nonconformity."},
    {"analyse", v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED,
     "10.2 b) record the cause (--comment required)."},
    {"act", v1::NONCONFORMITY_STAGE_ACTION_RECORDED,
     "10.2 c) record the corrective action (--comment required)."},
    {"review", v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED,
     "10.2 d) record the review of its effectiveness (--comment required; "
     "refused until the objective has held for its effectiveness_period, "
     "default 1h, since the action)."},
    {"close", v1::NONCONFORMITY_STAGE_CLOSED,
     "Close it (--comment required; not while the objective fails)."},
    {"invalid", v1::NONCONFORMITY_STAGE_INVALID,
     "End it as invalid, not a real breach, from any stage before closed "
     "(--comment required: the reason; counted as a false alarm)."},
}};

std::vector<std::string> StageNames() {
  std::vector<std::string> names;
  for (int i = v1::NONCONFORMITY_STAGE_OPEN;
       i <= v1::NONCONFORMITY_STAGE_RISK_ACCEPTED; ++i) {
    names.push_back(
        collector::StageName(static_cast<v1::NonconformityStage>(i)));
  }
  return names;
}

std::string StageText(v1::NonconformityStage stage) {
  return collector::StageName(stage);
}

// The evaluator's state names, shortened for tables.
std::string ObjectiveStateText(v1::ObjectiveState s) {
  if (s == v1::OBJECTIVE_STATE_UNSPECIFIED) return "-";
  if (s == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE) return "insufficient";
  return collector::ObjectiveStateName(s);
}

void PrintObjectives(const v1::ListObjectiveStatesResponse& response,
                     std::ostream& out) {
  Table table({"OBJECTIVE", "SERIES", "STATE", "VALUE", "N", "SINCE", "NC"});
  for (const v1::ObjectiveStatus& st : response.states()) {
    const bool active = st.state() == v1::OBJECTIVE_STATE_PENDING ||
                        st.state() == v1::OBJECTIVE_STATE_FIRING;
    table.AddRow(
        {st.objective_id(), st.series(),
         st.waiting_for().empty()
             ? ObjectiveStateText(st.state())
             : absl::StrCat(ObjectiveStateText(st.state()), " (waiting for ",
                            st.waiting_for(), ")"),
         MetricNumber(st.last_value().metric(), st.last_value().value()),
         absl::StrCat(st.last_value().sample_size()),
         active ? Time(st.active_since()) : "-",
         st.nonconformity_id().empty() ? "-" : st.nonconformity_id()});
  }
  table.Print(out);
  out << UnansweredText(response.unanswered_collectors());
}

absl::Status Objectives(const CallOptions& call,
                        const ObjectivesOptions& options, std::ostream& out) {
  v1::ListObjectiveStatesRequest request;
  *request.mutable_selector() = SelectorOf(options.filter);
  request.set_objective_id(options.objective);
  return CallAndShow(call, &Nc::ListObjectiveStates, request, PrintObjectives,
                     out);
}

absl::StatusOr<v1::ListNonconformitiesRequest> NcListRequest(
    const NcListOptions& options) {
  v1::ListNonconformitiesRequest request;
  *request.mutable_selector() = SelectorOf(options.filter);
  request.set_objective_id(options.objective);
  for (const std::string& stage : options.stages)
    request.add_stages(collector::StageFromName(stage));
  for (v1::Severity s :
       {v1::SEVERITY_INFO, v1::SEVERITY_WARNING, v1::SEVERITY_CRITICAL}) {
    if (collector::SeverityText(s) == options.severity) {
      request.set_min_severity(s);
    }
  }
  request.set_owner(options.owner);
  absl::StatusOr<Range> range = ResolveRange(options.opened, absl::Now());
  if (!range.ok()) return range.status();
  if (range->from.has_value()) {
    *request.mutable_opened_after() = ToProto(*range->from);
  }
  if (range->to.has_value())
    *request.mutable_opened_before() = ToProto(*range->to);
  return request;
}

// The due date, marked when it has passed without a corrective action.
std::string DueText(const v1::Nonconformity& nc, absl::Time now) {
  if (!nc.has_due_at()) return "-";
  return absl::StrCat(Time(nc.due_at()),
                      collector::IsOverdue(nc, now) ? " OVERDUE" : "");
}

void PrintNonconformities(const v1::ListNonconformitiesResponse& response,
                          std::ostream& out) {
  const absl::Time now = absl::Now();
  Table table({"ID", "OPENED", "SEVERITY", "STAGE", "OWNER", "DUE", "OBJECTIVE",
               "SERIES", "VALUE", "N", "OCCURRED", "RESOLVED"});
  for (const v1::Nonconformity& nc : response.nonconformities()) {
    table.AddRow(
        {nc.id(), Time(nc.opened_at()), collector::SeverityText(nc.severity()),
         StageText(nc.stage()), nc.owner().empty() ? "-" : nc.owner(),
         DueText(nc, now), nc.objective_id(),
         nc.features().empty()
             ? nc.series()
             : absl::StrCat(nc.series(),
                            " features=", absl::StrJoin(nc.features(), ",")),
         MetricNumber(nc.evidence().value().metric(),
                      nc.evidence().value().value()),
         absl::StrCat(nc.evidence().value().sample_size()),
         absl::StrCat(nc.occurrences()),
         nc.auto_resolved() ? Time(nc.resolved_at()) : "-"});
  }
  table.Print(out);
  out << UnansweredText(response.unanswered_collectors());
}

absl::Status NcList(const CallOptions& call, const NcListOptions& options,
                    std::ostream& out) {
  absl::StatusOr<v1::ListNonconformitiesRequest> request =
      NcListRequest(options);
  if (!request.ok()) return request.status();
  absl::StatusOr<v1::ListNonconformitiesResponse> response =
      Call(call, &Nc::ListNonconformities, *request);
  if (!response.ok()) return response.status();
  if (options.overdue) {
    auto* list = response->mutable_nonconformities();
    const absl::Time now = absl::Now();
    list->erase(std::remove_if(list->begin(), list->end(),
                               [&](const v1::Nonconformity& nc) {
                                 return !collector::IsOverdue(nc, now);
                               }),
                list->end());
  }
  Show(call, *response, PrintNonconformities, out);
  return absl::OkStatus();
}

void PrintNonconformity(const v1::Nonconformity& nc, std::ostream& out) {
  const v1::Evidence& e = nc.evidence();
  const v1::MetricValue& v = e.value();
  out << nc.id() << "  " << nc.title() << "\n"
      << "  stage:        " << StageText(nc.stage())
      << (nc.auto_resolved()
              ? absl::StrCat(" (auto-resolved ", Time(nc.resolved_at()), ")")
              : "")
      << "\n"
      << "  severity:     " << collector::SeverityText(nc.severity()) << "\n"
      << "  owner:        " << (nc.owner().empty() ? "-" : nc.owner()) << "\n"
      << "  due:          " << DueText(nc, absl::Now()) << "\n"
      << "  ticket:       " << (nc.ticket_url().empty() ? "-" : nc.ticket_url())
      << "\n"
      << (nc.has_risk_accepted_until()
              ? absl::StrCat("  risk accepted: until ",
                             Time(nc.risk_accepted_until()), " by ",
                             nc.risk_accepted_by(), "\n")
              : "")
      << (nc.features().empty()
              ? ""
              : absl::StrCat("  features:     ",
                             absl::StrJoin(nc.features(), ", "), "\n"))
      << "  objective:    " << nc.objective_id() << " (plan "
      << nc.plan_version().substr(0, 16) << ")\n"
      << "  model:        " << ModelText(nc.model()) << "\n"
      << "  series:       " << nc.series() << "\n"
      << "  iso:          " << absl::StrJoin(nc.iso_references(), ", ") << "\n"
      << "  opened:       " << Time(nc.opened_at()) << ", occurrences "
      << nc.occurrences() << ", last fired " << Time(nc.last_fired_at()) << "\n"
      << (nc.recurrence_of().empty()
              ? ""
              : "  recurrence of " + nc.recurrence_of() + "\n")
      << "  evidence:     " << v.metric() << " = "
      << MetricNumber(v.metric(), v.value()) << " (must be " << e.comparator()
      << " " << MetricNumber(v.metric(), e.threshold())
      << "), n = " << v.sample_size();
  if (!std::isnan(v.ci_low())) {
    out << ", 95% CI [" << MetricNumber(v.metric(), v.ci_low()) << ", "
        << MetricNumber(v.metric(), v.ci_high()) << "]";
  }
  if (v.has_p_value()) out << ", p = " << absl::StrFormat("%.3g", v.p_value());
  if (const std::string decision = DecisionText(e); !decision.empty())
    out << "\n  decision:     " << decision;
  out << "\n  window:       " << Time(e.window_start()) << " .. "
      << Time(e.window_end()) << "\n"
      << "  reports:      "
      << (e.report_ids().empty() ? "-" : absl::StrJoin(e.report_ids(), " "))
      << "\n  history:\n";
  for (const v1::Transition& t : nc.history()) {
    out << "    " << Time(t.at()) << "  " << t.actor() << "  "
        << (t.change().empty()
                ? absl::StrCat(StageText(t.from()), " -> ", StageText(t.to()))
                : absl::StrCat("changed ", t.change()))
        << (t.comment().empty() ? "" : "  " + t.comment()) << "\n";
  }
}

absl::Status NcShow(const CallOptions& call, const NcShowOptions& options,
                    std::ostream& out) {
  v1::GetNonconformityRequest request;
  request.set_id(options.id);
  return CallAndShow(call, &Nc::GetNonconformity, request, PrintNonconformity,
                     out);
}

absl::Status NcStep(const CallOptions& call, v1::NonconformityStage to,
                    const NcStepOptions& options, std::ostream& out,
                    const std::string& until = "") {
  v1::TransitionRequest request;
  request.set_id(options.id);
  request.set_to(to);
  request.set_comment(options.comment);
  if (!until.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeArg(until);
    if (!t.ok())
      return UsageError(absl::StrCat("--until: ", t.status().message()));
    *request.mutable_accepted_until() = ToProto(*t);
  }
  absl::StatusOr<std::string> actor = StepActor(options.actor, call);
  if (!actor.ok()) return actor.status();
  request.set_actor(*actor);
  return CallAndShow(
      call, &Nc::TransitionNonconformity, request,
      [sent = *actor](const v1::Nonconformity& nc, std::ostream& out) {
        // Without a name sent, the collector recorded the token's name.
        std::string by = sent;
        if (by.empty() && !nc.history().empty()) {
          by = nc.history().rbegin()->actor();
        }
        out << nc.id() << " is now " << StageText(nc.stage()) << " (by " << by
            << ")\n";
      },
      out);
}

// What `field` of an update request gets from the option's text.
using UpdateField = absl::Status (*)(const std::string& value,
                                     v1::UpdateNonconformityRequest* request);

absl::Status NcUpdate(const CallOptions& call, UpdateField field,
                      const NcUpdateOptions& options, std::ostream& out) {
  v1::UpdateNonconformityRequest request;
  request.set_id(options.id);
  request.set_comment(options.comment);
  if (absl::Status s = field(options.value, &request); !s.ok()) return s;
  absl::StatusOr<std::string> actor = StepActor(options.actor, call);
  if (!actor.ok()) return actor.status();
  request.set_actor(*actor);
  return CallAndShow(
      call, &Nc::UpdateNonconformity, request,
      [](const v1::Nonconformity& nc, std::ostream& out) {
        const v1::Transition& t = *nc.history().rbegin();
        out << nc.id() << ": " << t.comment() << " (by " << t.actor() << ")\n";
      },
      out);
}

void AddActorOptions(CLI::App* sub, std::string* id, std::string* comment,
                     std::string* actor) {
  sub->add_option("id", *id, "Nonconformity id, e.g. NC-000001.")
      ->required()
      ->type_name("ID");
  sub->add_option("--comment", *comment, "Why (recorded with the change).")
      ->type_name("TEXT");
  sub->add_option("--actor", *actor,
                  "The person making the change (default: $USER, else the "
                  "OS account's name; with --token_file the collector "
                  "records the token's name).")
      ->type_name("NAME");
}

// assign, due, link: one field each, on the record's history and the audit
// trail.
void AddNcUpdateCommands(CLI::App* nc, CommandTable* table) {
  struct Update {
    const char* verb;
    const char* option;
    const char* type;
    const char* description;
    UpdateField field;
  };
  static const Update kUpdates[] = {
      {"assign", "--owner", "NAME", "Reassign the nonconformity to an owner.",
       [](const std::string& v, v1::UpdateNonconformityRequest* r) {
         r->set_owner(v);
         return absl::OkStatus();
       }},
      {"due", "--at", "TIME",
       "Change when its corrective action is due (RFC 3339, a date or Unix "
       "seconds).",
       [](const std::string& v, v1::UpdateNonconformityRequest* r) {
         absl::StatusOr<absl::Time> t = ParseTimeArg(v);
         if (!t.ok())
           return UsageError(absl::StrCat("--at: ", t.status().message()));
         *r->mutable_due_at() = ToProto(*t);
         return absl::OkStatus();
       }},
      {"link", "--ticket", "URL",
       "Link the external ticket that follows it (an http(s) URL; empty "
       "removes the link).",
       [](const std::string& v, v1::UpdateNonconformityRequest* r) {
         r->set_ticket_url(v);
         return absl::OkStatus();
       }},
  };
  for (const Update& u : kUpdates) {
    auto options = std::make_shared<NcUpdateOptions>();
    const UpdateField field = u.field;
    CLI::App* sub =
        table->Add(nc, u.verb, u.description,
                   [options, field](const CallOptions& call, std::ostream& out,
                                    std::ostream&) {
                     return NcUpdate(call, field, *options, out);
                   });
    AddActorOptions(sub, &options->id, &options->comment, &options->actor);
    sub->add_option(u.option, options->value, "(required).")
        ->required()
        ->type_name(u.type);
  }
  auto accept = std::make_shared<NcAcceptOptions>();
  CLI::App* sub = table->Add(
      nc, "accept-risk",
      "End it as risk accepted until --until (a future time), when it "
      "reopens by itself; needs the role risk_owner or admin (--comment "
      "required: why the risk is accepted).",
      [accept](const CallOptions& call, std::ostream& out, std::ostream&) {
        return NcStep(call, v1::NONCONFORMITY_STAGE_RISK_ACCEPTED, accept->step,
                      out, accept->until);
      });
  AddActorOptions(sub, &accept->step.id, &accept->step.comment,
                  &accept->step.actor);
  sub->add_option("--until", accept->until,
                  "Until when the risk is accepted (required).")
      ->required()
      ->type_name("TIME");
}

void AddObjectivesCommand(CLI::App* app, CommandTable* table) {
  auto options = std::make_shared<ObjectivesOptions>();
  CLI::App* sub = table->Add(
      app, "objectives",
      "Evaluation state of every objective series of the monitoring plan.",
      [options](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Objectives(call, *options, out);
      });
  AddModelOptions(sub, &options->filter, ModelUse::kFilter);
  sub->add_option("--objective", options->objective, "Only this objective.")
      ->type_name("ID");
}

void AddNcListCommand(CLI::App* nc, CommandTable* table) {
  auto options = std::make_shared<NcListOptions>();
  CLI::App* sub = table->Add(
      nc, "list", "Nonconformities, newest first.",
      [options](const CallOptions& call, std::ostream& out, std::ostream&) {
        return NcList(call, *options, out);
      });
  AddModelOptions(sub, &options->filter, ModelUse::kFilter);
  sub->add_option("--objective", options->objective, "Only this objective.")
      ->type_name("ID");
  sub->add_option("--stage", options->stages,
                  "Only these stages, comma-separated.")
      ->delimiter(',')
      ->check(OneOf(StageNames()))
      ->type_name("STAGE,...");
  sub->add_option("--severity", options->severity,
                  "Only this severity and above: info, warning or critical.")
      ->check(OneOf({"info", "warning", "critical"}))
      ->type_name("SEVERITY");
  sub->add_option("--owner", options->owner, "Only those of this owner.");
  AddRangeOptions(sub, &options->opened, "the opening times",
                  "Default: whenever opened.");
  sub->add_flag("--overdue", options->overdue,
                "Only those past their due date without a corrective action.");
}

}  // namespace

void AddNcCommands(CLI::App* app, CommandTable* table) {
  AddObjectivesCommand(app, table);
  CLI::App* nc = table->AddGroup(
      app, "nc",
      "Nonconformities and their clause 10.2 steps, in the order ack, "
      "analyse, act, review, close; or ended as invalid or risk accepted.");
  AddNcListCommand(nc, table);

  auto show = std::make_shared<NcShowOptions>();
  CLI::App* sub =
      table->Add(nc, "show", "One nonconformity with its evidence and history.",
                 [show](const CallOptions& call, std::ostream& out,
                        std::ostream&) { return NcShow(call, *show, out); });
  sub->add_option("id", show->id, "Nonconformity id, e.g. NC-000001.")
      ->required()
      ->type_name("ID");

  for (const Step& step : kSteps) {
    auto options = std::make_shared<NcStepOptions>();
    const v1::NonconformityStage to = step.to;
    sub = table->Add(nc, step.verb, step.description,
                     [options, to](const CallOptions& call, std::ostream& out,
                                   std::ostream&) {
                       return NcStep(call, to, *options, out);
                     });
    sub->add_option("id", options->id, "Nonconformity id, e.g. NC-000001.")
        ->required()
        ->type_name("ID");
    sub->add_option("--comment", options->comment,
                    "What was done or found: the cause, the corrective "
                    "action, the review's finding.")
        ->type_name("TEXT");
    sub->add_option("--actor", options->actor,
                    "The person taking the step (default: $USER, else the "
                    "OS account's name; with --token_file the collector "
                    "records the token's name).")
        ->type_name("NAME");
  }
  AddNcUpdateCommands(nc, table);
}

}  // namespace aims::ctl

#include "collector/compliance/nonconformities.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

constexpr char kNextNumberKey[] = "next_nonconformity";

// The verb aimsctl uses for the step into `stage`.
const char* Verb(v1::NonconformityStage stage) {
  switch (stage) {
    case v1::NONCONFORMITY_STAGE_ACKNOWLEDGED:
      return "ack";
    case v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED:
      return "analyse";
    case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
      return "act";
    case v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED:
      return "review";
    case v1::NONCONFORMITY_STAGE_CLOSED:
      return "close";
    case v1::NONCONFORMITY_STAGE_INVALID:
      return "invalid";
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return "accept-risk";
    default:
      return "?";
  }
}

std::string UtcText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Why `nc`'s record takes no more steps, or OK.
absl::Status CheckNotEnded(const v1::Nonconformity& nc) {
  switch (nc.stage()) {
    case v1::NONCONFORMITY_STAGE_CLOSED:
      return absl::FailedPreconditionError(
          absl::StrCat(nc.id(), " is closed; its record is final"));
    case v1::NONCONFORMITY_STAGE_INVALID:
      return absl::FailedPreconditionError(
          absl::StrCat(nc.id(),
                       " was marked invalid (not a real breach); its record is "
                       "final"));
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return absl::FailedPreconditionError(
          absl::StrCat(nc.id(), " is risk_accepted until ",
                       UtcText(FromProto(nc.risk_accepted_until())), " (by ",
                       nc.risk_accepted_by(), "); it reopens then"));
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckActor(const std::string& actor) {
  if (actor.empty() || actor == kSystemActor) {
    return absl::InvalidArgumentError(
        "actor: every step of a nonconformity is made by a named person (not "
        "empty, not 'aims')");
  }
  return absl::OkStatus();
}

// What the comment of a step into `to` must say.
const char* CommentNeed(v1::NonconformityStage to) {
  switch (to) {
    case v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED:
      return " (the causes found)";
    case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
      return " (the corrective action taken)";
    case v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED:
      return " (the review's finding)";
    case v1::NONCONFORMITY_STAGE_INVALID:
      return " (why it is not a real breach)";
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return " (why the risk is accepted)";
    default:
      return " (why it can be closed)";
  }
}

// A person's request to move `nc`: made by a named person, to the next
// stage or one of the endings beside closure, with the comment that stage
// needs (and for a risk acceptance a future date).
absl::Status CheckStepRequest(const v1::Nonconformity& nc,
                              const v1::TransitionRequest& request,
                              const std::string& actor, absl::Time now) {
  if (absl::Status s = CheckActor(actor); !s.ok()) return s;
  if (absl::Status s = CheckNotEnded(nc); !s.ok()) return s;
  const auto next = static_cast<v1::NonconformityStage>(nc.stage() + 1);
  const v1::NonconformityStage to = request.to();
  const bool ending = to == v1::NONCONFORMITY_STAGE_INVALID ||
                      to == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED;
  if (to != next && !ending) {
    return absl::FailedPreconditionError(absl::StrCat(
        nc.id(), " is ", StageName(nc.stage()), "; the next step is '",
        Verb(next), "' (to ", StageName(next), "), not ", StageName(to),
        " (or end it as invalid or risk_accepted)"));
  }
  if (request.comment().empty() && to != v1::NONCONFORMITY_STAGE_ACKNOWLEDGED) {
    return absl::InvalidArgumentError(
        absl::StrCat("comment: required for ", StageName(to), CommentNeed(to)));
  }
  if (request.comment().size() > 64 * 1024) {
    return absl::InvalidArgumentError("comment: longer than 65536 bytes");
  }
  if (to == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED) {
    if (!request.has_accepted_until()) {
      return absl::InvalidArgumentError(
          "accepted_until: required for risk_accepted (until when the risk "
          "is accepted)");
    }
    const absl::Time until = FromProto(request.accepted_until());
    if (until <= now) {
      return absl::InvalidArgumentError(
          absl::StrCat("accepted_until: ", UtcText(until),
                       " is not in the future (now ", UtcText(now), ")"));
    }
  }
  return absl::OkStatus();
}

bool Breached(const v1::ObjectiveStatus& series) {
  return series.state() == v1::OBJECTIVE_STATE_FIRING ||
         series.state() == v1::OBJECTIVE_STATE_PENDING;
}

// Closing needs the objective not to fail now (`series` is null when the
// objective left the plan).
absl::Status CheckClosable(const v1::ObjectiveStatus* series) {
  if (series != nullptr && Breached(*series)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the objective is breached now (", series->series(),
                     "); it cannot be closed while it fails"));
  }
  return absl::OkStatus();
}

// The effectiveness review (10.2 d) needs the objective to have held for
// `period` since the corrective action and since any breach after it, and
// to hold, with evidence, now.
absl::Status CheckEffective(const v1::Nonconformity& nc,
                            const v1::ObjectiveStatus* series,
                            absl::Duration period, absl::Time now) {
  absl::Time action_at = absl::InfinitePast();
  for (const v1::Transition& t : nc.history()) {
    if (t.to() == v1::NONCONFORMITY_STAGE_ACTION_RECORDED && t.from() != t.to())
      action_at = FromProto(t.at());
  }
  const absl::Time ready = action_at + period;
  if (now < ready) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the objective must hold for ", absl::FormatDuration(period),
        " after the corrective action (recorded ", UtcText(action_at),
        "); review possible from ", UtcText(ready)));
  }
  if (series == nullptr) return absl::OkStatus();
  if (Breached(*series)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the objective is breached now (", series->series(),
                     "); the corrective action is not yet effective"));
  }
  if (series->has_last_breach() &&
      FromProto(series->last_breach()) > action_at &&
      now < FromProto(series->last_breach()) + period) {
    return absl::FailedPreconditionError(
        absl::StrCat("the objective was breached at ",
                     UtcText(FromProto(series->last_breach())),
                     ", after the corrective action; it must hold for ",
                     absl::FormatDuration(period), " from then"));
  }
  if (series->state() == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE) {
    return absl::FailedPreconditionError(
        "the objective has insufficient evidence now; effectiveness cannot "
        "be shown");
  }
  if (series->state() == v1::OBJECTIVE_STATE_POSSIBLE_BREACH) {
    return absl::FailedPreconditionError(
        "the objective is a possible breach now (beyond its threshold, not "
        "shown by the evidence); effectiveness cannot be shown");
  }
  return absl::OkStatus();
}

// The decision behind `evidence`, for the audit records of an opening or a
// recurrence.
void AddDecision(const v1::Evidence& evidence,
                 std::map<std::string, std::string>* fields) {
  if (evidence.decision().empty()) return;
  (*fields)["decision"] = evidence.decision();
  if (evidence.confidence() > 0) {
    (*fields)["confidence"] = absl::StrCat(evidence.confidence());
    (*fields)["interval"] = absl::StrCat("[", evidence.value().ci_low(), ", ",
                                         evidence.value().ci_high(), "]");
  }
  if (evidence.decision() == "sequential") {
    (*fields)["statistic"] = absl::StrCat(evidence.statistic());
    (*fields)["statistic_threshold"] =
        absl::StrCat(evidence.statistic_threshold());
    (*fields)["false_alarm_budget"] = evidence.false_alarm_budget();
  }
  if (!evidence.found_by().empty()) {
    (*fields)["found_by"] = evidence.found_by();
    (*fields)["window"] =
        absl::StrCat(UtcText(FromProto(evidence.window_start())), " .. ",
                     UtcText(FromProto(evidence.window_end())));
  }
}

// " (found by catch-up: backfilled data, window A .. B)" for a breach a
// catch-up evaluation found in a past window; empty for a live one.
std::string FoundByText(const v1::Evidence& evidence) {
  if (evidence.found_by().empty()) return "";
  return absl::StrCat(" (found by ", evidence.found_by(), ", window ",
                      UtcText(FromProto(evidence.window_start())), " .. ",
                      UtcText(FromProto(evidence.window_end())), ")");
}

// Another feature breaches during a drift episode: it joins the record.
void JoinEpisode(const Objective& objective, const v1::ObjectiveStatus& status,
                 const v1::Evidence& evidence, absl::Time now,
                 v1::Nonconformity* nc, std::vector<AuditEntry>* audit) {
  const std::string& feature = status.feature();
  nc->add_features(feature);
  *nc->mutable_last_fired_at() = ToProto(now);
  v1::Transition* t = nc->add_history();
  t->set_from(nc->stage());
  t->set_to(nc->stage());
  t->set_actor(kSystemActor);
  *t->mutable_at() = ToProto(now);
  t->set_comment(absl::StrCat(kFeatureAddedComment, ": feature ", feature, ", ",
                              evidence.value().metric(), " = ",
                              evidence.value().value()));
  audit->push_back({"nc_feature_added",
                    kSystemActor,
                    {{"id", nc->id()},
                     {"objective", objective.id},
                     {"series", status.series()},
                     {"feature", feature},
                     {"value", absl::StrCat(evidence.value().value())}}});
}

// The series fires again while its record is not final: another
// occurrence, and after a corrective action the record goes back to
// acknowledged, so causes are analysed again. An accepted risk stays
// accepted.
void AddRecurrence(const Objective& objective,
                   const v1::ObjectiveStatus& status,
                   const v1::Evidence& evidence, absl::Time now,
                   v1::Nonconformity* nc, std::vector<AuditEntry>* audit) {
  nc->set_occurrences(nc->occurrences() + 1);
  *nc->mutable_last_fired_at() = ToProto(now);
  nc->set_auto_resolved(false);
  nc->clear_resolved_at();
  *nc->mutable_evidence() = evidence;
  const bool reopened =
      nc->stage() == v1::NONCONFORMITY_STAGE_ACTION_RECORDED ||
      nc->stage() == v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED;
  v1::Transition* t = nc->add_history();
  t->set_from(nc->stage());
  t->set_to(reopened ? v1::NONCONFORMITY_STAGE_ACKNOWLEDGED : nc->stage());
  t->set_actor(kSystemActor);
  *t->mutable_at() = ToProto(now);
  t->set_comment(absl::StrCat(
      kRecurredComment, " (occurrence ", nc->occurrences(),
      "): ", evidence.value().metric(), " = ", evidence.value().value(),
      reopened ? "; the corrective action did not hold: reopened to "
                 "analyse the cause again"
               : ""));
  nc->set_stage(t->to());
  audit->push_back({"nc_recurrence",
                    kSystemActor,
                    {{"id", nc->id()},
                     {"objective", objective.id},
                     {"series", status.series()},
                     {"occurrence", absl::StrCat(nc->occurrences())}}});
  AddDecision(evidence, &audit->back().fields);
}

// Owner, due date and ticket link as a person may set them.
absl::Status CheckUpdate(const v1::Nonconformity& nc,
                         const v1::UpdateNonconformityRequest& request) {
  if (request.has_owner()) {
    if (request.owner().size() > 256)
      return absl::InvalidArgumentError("owner: longer than 256 bytes");
    for (char c : request.owner()) {
      if (static_cast<unsigned char>(c) < 0x20)
        return absl::InvalidArgumentError("owner: control characters");
    }
  }
  if (request.has_due_at() &&
      FromProto(request.due_at()) < FromProto(nc.opened_at())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "due_at: ", UtcText(FromProto(request.due_at())),
        " is before the opening (", UtcText(FromProto(nc.opened_at())), ")"));
  }
  if (request.has_ticket_url() && !request.ticket_url().empty()) {
    if (absl::Status s = CheckTicketUrl(request.ticket_url()); !s.ok())
      return s;
  }
  if (request.comment().size() > 64 * 1024)
    return absl::InvalidArgumentError("comment: longer than 65536 bytes");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTicketUrl(absl::string_view url) {
  absl::string_view rest = url;
  const bool scheme = absl::ConsumePrefix(&rest, "https://") ||
                      absl::ConsumePrefix(&rest, "http://");
  bool clean = url.size() <= 2048;
  for (char c : url) clean &= static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
  if (!scheme || rest.empty() || rest.front() == '/' || rest.front() == '?' ||
      !clean) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ticket_url: '", url.substr(0, 200),
        "' is not an http(s) URL such as https://tracker.example/ISSUE-1 "
        "(no spaces, at most 2048 bytes)"));
  }
  return absl::OkStatus();
}

Nonconformities::Nonconformities(Storage* storage, AuditTrail* audit)
    : storage_(storage), audit_(audit) {}

absl::Status Nonconformities::Load() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> next =
      storage_->Get(Table::kMeta, kNextNumberKey);
  if (next.ok()) {
    if (!absl::SimpleAtoi(*next, &next_number_)) {
      return absl::DataLossError("meta: next nonconformity number is corrupt");
    }
  } else if (!absl::IsNotFound(next.status())) {
    return next.status();
  }
  absl::Status bad;
  std::map<std::string, v1::Nonconformity> loaded;
  absl::Status s = storage_->Scan(
      Table::kNonconformities, "",
      [&](absl::string_view key, absl::string_view value) {
        v1::Nonconformity nc;
        if (!nc.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          bad = absl::DataLossError(
              absl::StrCat("nonconformity ", key, " cannot be parsed"));
          return false;
        }
        loaded[nc.id()] = std::move(nc);
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  by_id_ = std::move(loaded);
  return absl::OkStatus();
}

absl::Status Nonconformities::CommitLocked(const v1::Nonconformity& nc,
                                           std::vector<Mutation> mutations,
                                           std::vector<AuditEntry> audit,
                                           const ExtraMutations& extra,
                                           uint64_t next_number) {
  mutations.push_back(
      {Table::kNonconformities, nc.id(), nc.SerializeAsString()});
  if (next_number != next_number_) {
    mutations.push_back(
        {Table::kMeta, kNextNumberKey, absl::StrCat(next_number)});
  }
  if (extra) {
    for (Mutation& m : extra(nc)) mutations.push_back(std::move(m));
  }
  if (absl::Status s = audit_->Commit(std::move(mutations), audit); !s.ok())
    return s;
  next_number_ = next_number;
  by_id_[nc.id()] = nc;
  return absl::OkStatus();
}

const v1::Nonconformity* Nonconformities::LatestLocked(
    const std::string& objective_id, const std::string& series) const {
  // By opening time, then id: in a fleet, records opened by different
  // collectors (taken over with their models) sit side by side, and their
  // ids do not sort by age.
  const v1::Nonconformity* latest = nullptr;
  for (const auto& [id, nc] : by_id_) {
    if (nc.objective_id() != objective_id || nc.series() != series) continue;
    if (latest == nullptr ||
        FromProto(nc.opened_at()) >= FromProto(latest->opened_at())) {
      latest = &nc;
    }
  }
  return latest;
}

bool IsLaterVersion(const v1::Nonconformity& a, const v1::Nonconformity& b) {
  if (a.history_size() != b.history_size())
    return a.history_size() > b.history_size();
  if (a.history_size() == 0) return false;
  return FromProto(a.history(a.history_size() - 1).at()) >
         FromProto(b.history(b.history_size() - 1).at());
}

absl::StatusOr<bool> Nonconformities::Adopt(const v1::Nonconformity& record,
                                            const std::string& from) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(record.id());
  if (it != by_id_.end()) {
    const v1::Nonconformity& held = it->second;
    if (held.objective_id() != record.objective_id() ||
        held.series() != record.series() ||
        FromProto(held.opened_at()) != FromProto(record.opened_at())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "nonconformity ", record.id(), " from ", from,
          " is another record than the one held here under that id (are "
          "two collectors' --collector_id equal?)"));
    }
    if (!IsLaterVersion(record, held)) return false;
  }
  uint64_t next = next_number_;
  const std::string own = absl::StrCat("NC-", id_prefix_, "-");
  uint64_t number = 0;
  if (!id_prefix_.empty() && absl::StartsWith(record.id(), own) &&
      absl::SimpleAtoi(absl::string_view(record.id()).substr(own.size()),
                       &number) &&
      number >= next) {
    next = number + 1;
  }
  std::vector<AuditEntry> audit = {
      {"nc_adopted",
       kSystemActor,
       {{"id", record.id()},
        {"from", from},
        {"stage", StageName(record.stage())},
        {"history", absl::StrCat(record.history_size())}}}};
  if (absl::Status s =
          CommitLocked(record, {}, std::move(audit), nullptr, next);
      !s.ok()) {
    return s;
  }
  return true;
}

absl::StatusOr<v1::Nonconformity> Nonconformities::OnFiring(
    const Objective& objective, const Plan& plan,
    const v1::ObjectiveStatus& status, const v1::Evidence& evidence,
    absl::Time now, std::vector<Mutation> mutations,
    std::vector<AuditEntry> audit, const ExtraMutations& extra,
    const std::string& episode) {
  absl::MutexLock lock(&mu_);
  const std::string& series = episode.empty() ? status.series() : episode;
  const v1::Nonconformity* latest = LatestLocked(objective.id, series);
  v1::Nonconformity nc;
  uint64_t next = next_number_;
  const bool final_record =
      latest != nullptr && (latest->stage() == v1::NONCONFORMITY_STAGE_CLOSED ||
                            latest->stage() == v1::NONCONFORMITY_STAGE_INVALID);
  const std::string& feature = status.feature();
  const bool listed =
      latest != nullptr &&
      std::find(latest->features().begin(), latest->features().end(),
                feature) != latest->features().end();
  if (latest != nullptr && !final_record && !episode.empty() &&
      !latest->auto_resolved() && !listed) {
    nc = *latest;
    JoinEpisode(objective, status, evidence, now, &nc, &audit);
  } else if (latest != nullptr && !final_record) {
    nc = *latest;
    if (!episode.empty() && !listed) nc.add_features(feature);
    AddRecurrence(objective, status, evidence, now, &nc, &audit);
  } else {
    nc.set_id(id_prefix_.empty()
                  ? absl::StrFormat("NC-%06d", next++)
                  : absl::StrFormat("NC-%s-%06d", id_prefix_, next++));
    nc.set_objective_id(objective.id);
    nc.set_title(objective.title);
    nc.set_plan_version(plan.version);
    *nc.mutable_model() = status.model();
    nc.set_series(series);
    if (!episode.empty()) nc.add_features(feature);
    *nc.mutable_opened_at() = ToProto(now);
    *nc.mutable_last_fired_at() = ToProto(now);
    *nc.mutable_due_at() = ToProto(now + plan.DueAfter(objective.severity));
    nc.set_severity(objective.severity);
    nc.set_owner(objective.owner);
    nc.set_stage(v1::NONCONFORMITY_STAGE_OPEN);
    nc.set_occurrences(1);
    *nc.mutable_evidence() = evidence;
    for (const std::string& r : objective.iso_references)
      nc.add_iso_references(r);
    if (latest != nullptr && latest->has_resolved_at() &&
        now - FromProto(latest->resolved_at()) <= plan.recurrence_period) {
      nc.set_recurrence_of(latest->id());
    }
    v1::Transition* t = nc.add_history();
    t->set_from(v1::NONCONFORMITY_STAGE_UNSPECIFIED);
    t->set_to(v1::NONCONFORMITY_STAGE_OPEN);
    t->set_actor(kSystemActor);
    *t->mutable_at() = ToProto(now);
    t->set_comment(absl::StrCat(
        objective.title, ": ", evidence.value().metric(), " = ",
        evidence.value().value(), ", must be ", evidence.comparator(), " ",
        evidence.threshold(),
        episode.empty() ? "" : absl::StrCat(" (feature ", feature, ")"),
        FoundByText(evidence)));
    audit.push_back({"nc_opened",
                     kSystemActor,
                     {{"id", nc.id()},
                      {"objective", objective.id},
                      {"plan_version", plan.version},
                      {"series", status.series()},
                      {"value", absl::StrCat(evidence.value().value())},
                      {"threshold", absl::StrCat(evidence.comparator(), " ",
                                                 evidence.threshold())},
                      {"due_at", UtcText(FromProto(nc.due_at()))},
                      {"recurrence_of", nc.recurrence_of()}}});
    AddDecision(evidence, &audit.back().fields);
  }
  if (absl::Status s =
          CommitLocked(nc, std::move(mutations), std::move(audit), extra, next);
      !s.ok()) {
    return s;
  }
  return nc;
}

std::string Nonconformities::OpenRecordOf(const std::string& objective_id,
                                          const std::string& series) const {
  absl::MutexLock lock(&mu_);
  const v1::Nonconformity* latest = LatestLocked(objective_id, series);
  if (latest == nullptr || latest->stage() == v1::NONCONFORMITY_STAGE_CLOSED ||
      latest->stage() == v1::NONCONFORMITY_STAGE_INVALID) {
    return "";
  }
  return latest->id();
}

absl::StatusOr<v1::Nonconformity> Nonconformities::OnResolved(
    const std::string& id, absl::Time now, std::vector<Mutation> mutations,
    std::vector<AuditEntry> audit, const ExtraMutations& extra) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return absl::NotFoundError(absl::StrCat("no nonconformity ", id));
  v1::Nonconformity nc = it->second;
  nc.set_auto_resolved(true);
  *nc.mutable_resolved_at() = ToProto(now);
  v1::Transition* t = nc.add_history();
  t->set_from(nc.stage());
  t->set_to(nc.stage());
  t->set_actor(kSystemActor);
  *t->mutable_at() = ToProto(now);
  t->set_comment(
      absl::StrCat(kAutoResolvedComment,
                   ": the objective holds again (closure still needs a "
                   "person)"));
  audit.push_back({"nc_auto_resolved", kSystemActor, {{"id", id}}});
  if (absl::Status s = CommitLocked(nc, std::move(mutations), std::move(audit),
                                    extra, next_number_);
      !s.ok()) {
    return s;
  }
  return nc;
}

absl::StatusOr<v1::Nonconformity> Nonconformities::Transition(
    const v1::TransitionRequest& request, absl::Time now,
    const v1::ObjectiveStatus* series, absl::Duration effectiveness_period,
    const ExtraMutations& extra) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(request.id());
  if (it == by_id_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no nonconformity '", request.id(), "'"));
  }
  v1::Nonconformity nc = it->second;
  const std::string actor(absl::StripAsciiWhitespace(request.actor()));
  if (absl::Status s = CheckStepRequest(nc, request, actor, now); !s.ok())
    return s;
  const v1::NonconformityStage next = request.to();
  if (next == v1::NONCONFORMITY_STAGE_CLOSED) {
    if (absl::Status s = CheckClosable(series); !s.ok()) return s;
  }
  if (next == v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED) {
    if (absl::Status s = CheckEffective(nc, series, effectiveness_period, now);
        !s.ok()) {
      return s;
    }
  }
  v1::Transition* t = nc.add_history();
  t->set_from(nc.stage());
  t->set_to(next);
  t->set_actor(actor);
  *t->mutable_at() = ToProto(now);
  t->set_comment(request.comment());
  nc.set_stage(next);
  std::vector<AuditEntry> audit = {{"nc_transition",
                                    actor,
                                    {{"id", nc.id()},
                                     {"from", StageName(t->from())},
                                     {"to", StageName(next)},
                                     {"comment", request.comment()}}}};
  if (next == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED) {
    *nc.mutable_risk_accepted_until() = request.accepted_until();
    nc.set_risk_accepted_by(actor);
    audit.back().fields["accepted_until"] =
        UtcText(FromProto(request.accepted_until()));
  }
  if (absl::Status s =
          CommitLocked(nc, {}, std::move(audit), extra, next_number_);
      !s.ok()) {
    return s;
  }
  return nc;
}

absl::StatusOr<v1::Nonconformity> Nonconformities::Update(
    const v1::UpdateNonconformityRequest& request, absl::Time now,
    const ExtraMutations& extra) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(request.id());
  if (it == by_id_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no nonconformity '", request.id(), "'"));
  }
  v1::Nonconformity nc = it->second;
  const std::string actor(absl::StripAsciiWhitespace(request.actor()));
  if (absl::Status s = CheckActor(actor); !s.ok()) return s;
  if (nc.stage() == v1::NONCONFORMITY_STAGE_CLOSED ||
      nc.stage() == v1::NONCONFORMITY_STAGE_INVALID) {
    return CheckNotEnded(nc);
  }
  if (absl::Status s = CheckUpdate(nc, request); !s.ok()) return s;
  std::vector<AuditEntry> audit;
  auto record = [&](const char* change, const std::string& from,
                    const std::string& to) {
    v1::Transition* t = nc.add_history();
    t->set_from(nc.stage());
    t->set_to(nc.stage());
    t->set_actor(actor);
    *t->mutable_at() = ToProto(now);
    t->set_change(change);
    t->set_comment(absl::StrCat(
        change, ": ", from.empty() ? "-" : from, " -> ", to.empty() ? "-" : to,
        request.comment().empty() ? "" : "; ", request.comment()));
    audit.push_back({"nc_update",
                     actor,
                     {{"id", nc.id()},
                      {"change", change},
                      {"from", from},
                      {"to", to},
                      {"comment", request.comment()}}});
  };
  if (request.has_owner() && request.owner() != nc.owner()) {
    record("owner", nc.owner(), request.owner());
    nc.set_owner(request.owner());
  }
  if (request.has_due_at() &&
      FromProto(request.due_at()) != FromProto(nc.due_at())) {
    record("due_at", nc.has_due_at() ? UtcText(FromProto(nc.due_at())) : "",
           UtcText(FromProto(request.due_at())));
    *nc.mutable_due_at() = request.due_at();
  }
  if (request.has_ticket_url() && request.ticket_url() != nc.ticket_url()) {
    record("ticket_url", nc.ticket_url(), request.ticket_url());
    nc.set_ticket_url(request.ticket_url());
  }
  if (audit.empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give an owner, due_at or ticket_url that differs "
        "from the record's");
  }
  if (absl::Status s =
          CommitLocked(nc, {}, std::move(audit), extra, next_number_);
      !s.ok()) {
    return s;
  }
  return nc;
}

std::vector<v1::Nonconformity> Nonconformities::ReopenExpired(
    absl::Time now, const ExtraMutations& extra,
    const std::function<bool(const v1::ModelRef&)>& only) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Nonconformity> expired;
  for (const auto& [id, nc] : by_id_) {
    if (only && !only(nc.model())) continue;
    if (nc.stage() == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED &&
        FromProto(nc.risk_accepted_until()) <= now) {
      expired.push_back(nc);
    }
  }
  std::vector<v1::Nonconformity> reopened;
  for (v1::Nonconformity& nc : expired) {
    // Back to the stage the risk was accepted from.
    v1::NonconformityStage back = v1::NONCONFORMITY_STAGE_OPEN;
    for (const v1::Transition& t : nc.history()) {
      if (t.to() == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED && t.from() != t.to())
        back = t.from();
    }
    const std::string until = UtcText(FromProto(nc.risk_accepted_until()));
    v1::Transition* t = nc.add_history();
    t->set_from(nc.stage());
    t->set_to(back);
    t->set_actor(kSystemActor);
    *t->mutable_at() = ToProto(now);
    t->set_comment(absl::StrCat("the risk acceptance by ",
                                nc.risk_accepted_by(), " ended ", until,
                                ": reopened"));
    nc.set_stage(back);
    nc.clear_risk_accepted_until();
    nc.clear_risk_accepted_by();
    std::vector<AuditEntry> audit = {{"nc_risk_reopened",
                                      kSystemActor,
                                      {{"id", nc.id()},
                                       {"accepted_until", until},
                                       {"to", StageName(back)}}}};
    absl::Status s =
        CommitLocked(nc, {}, std::move(audit), extra, next_number_);
    if (s.ok())
      reopened.push_back(std::move(nc));  // else the next tick retries
  }
  return reopened;
}

absl::StatusOr<v1::Nonconformity> Nonconformities::Get(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return absl::NotFoundError(absl::StrCat("no nonconformity '", id, "'"));
  return it->second;
}

std::vector<v1::Nonconformity> Nonconformities::List(
    const v1::ListNonconformitiesRequest& request) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Nonconformity> out;
  for (const auto& [id, nc] : by_id_) {
    if (!Matches(request.selector(), nc.model())) continue;
    if (request.stages_size() > 0 &&
        std::find(request.stages().begin(), request.stages().end(),
                  nc.stage()) == request.stages().end()) {
      continue;
    }
    if (nc.severity() < request.min_severity()) continue;
    if (!request.objective_id().empty() &&
        nc.objective_id() != request.objective_id())
      continue;
    if (!request.owner().empty() && nc.owner() != request.owner()) continue;
    if (request.has_opened_after() &&
        FromProto(nc.opened_at()) < FromProto(request.opened_after())) {
      continue;
    }
    if (request.has_opened_before() &&
        FromProto(nc.opened_at()) > FromProto(request.opened_before())) {
      continue;
    }
    out.push_back(nc);
  }
  return out;
}

}  // namespace aims::collector

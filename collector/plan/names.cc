#include "collector/plan/names.h"

#include "absl/strings/ascii.h"

namespace aims::collector {

std::string ComparatorText(Comparator c) {
  switch (c) {
    case Comparator::kLess:
      return "<";
    case Comparator::kLessEqual:
      return "<=";
    case Comparator::kGreater:
      return ">";
    case Comparator::kGreaterEqual:
      return ">=";
    case Comparator::kEqual:
      return "==";
    case Comparator::kNotEqual:
      return "!=";
  }
  return "?";
}

std::optional<Comparator> ComparatorFromText(absl::string_view text) {
  for (Comparator c :
       {Comparator::kLess, Comparator::kLessEqual, Comparator::kGreater,
        Comparator::kGreaterEqual, Comparator::kEqual, Comparator::kNotEqual}) {
    if (ComparatorText(c) == text) return c;
  }
  return std::nullopt;
}

std::string DecisionName(Decision d) {
  switch (d) {
    case Decision::kPoint:
      return "point";
    case Decision::kInterval:
      return "interval";
    case Decision::kSequential:
      return "sequential";
  }
  return "?";
}

std::optional<Decision> DecisionFromName(absl::string_view name) {
  for (Decision d :
       {Decision::kPoint, Decision::kInterval, Decision::kSequential}) {
    if (DecisionName(d) == name) return d;
  }
  return std::nullopt;
}

std::string SeverityText(v1::Severity s) {
  switch (s) {
    case v1::SEVERITY_INFO:
      return "info";
    case v1::SEVERITY_WARNING:
      return "warning";
    case v1::SEVERITY_CRITICAL:
      return "critical";
    default:
      return "unspecified";
  }
}

std::optional<v1::Severity> SeverityFromText(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (v1::Severity s :
       {v1::SEVERITY_INFO, v1::SEVERITY_WARNING, v1::SEVERITY_CRITICAL}) {
    if (SeverityText(s) == lower) return s;
  }
  return std::nullopt;
}

std::string ObjectiveStateName(v1::ObjectiveState s) {
  switch (s) {
    case v1::OBJECTIVE_STATE_INACTIVE:
      return "inactive";
    case v1::OBJECTIVE_STATE_PENDING:
      return "pending";
    case v1::OBJECTIVE_STATE_FIRING:
      return "firing";
    case v1::OBJECTIVE_STATE_RESOLVED:
      return "resolved";
    case v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE:
      return "insufficient_evidence";
    case v1::OBJECTIVE_STATE_POSSIBLE_BREACH:
      return "possible_breach";
    case v1::OBJECTIVE_STATE_UNSPECIFIED:
      return "unevaluated";
    default:
      return "unspecified";
  }
}

v1::ObjectiveState ObjectiveStateFromName(absl::string_view name) {
  for (v1::ObjectiveState s :
       {v1::OBJECTIVE_STATE_UNSPECIFIED, v1::OBJECTIVE_STATE_INACTIVE,
        v1::OBJECTIVE_STATE_PENDING, v1::OBJECTIVE_STATE_FIRING,
        v1::OBJECTIVE_STATE_RESOLVED, v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE,
        v1::OBJECTIVE_STATE_POSSIBLE_BREACH}) {
    if (ObjectiveStateName(s) == name) return s;
  }
  return v1::OBJECTIVE_STATE_UNSPECIFIED;
}

std::string StageName(v1::NonconformityStage stage) {
  switch (stage) {
    case v1::NONCONFORMITY_STAGE_OPEN:
      return "open";
    case v1::NONCONFORMITY_STAGE_ACKNOWLEDGED:
      return "acknowledged";
    case v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED:
      return "cause_analysed";
    case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
      return "action_recorded";
    case v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED:
      return "effectiveness_reviewed";
    case v1::NONCONFORMITY_STAGE_CLOSED:
      return "closed";
    case v1::NONCONFORMITY_STAGE_INVALID:
      return "invalid";
    case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
      return "risk_accepted";
    default:
      return "unspecified";
  }
}

v1::NonconformityStage StageFromName(absl::string_view name) {
  for (int i = v1::NONCONFORMITY_STAGE_OPEN;
       i <= v1::NONCONFORMITY_STAGE_RISK_ACCEPTED; ++i) {
    const auto stage = static_cast<v1::NonconformityStage>(i);
    if (StageName(stage) == name) return stage;
  }
  return v1::NONCONFORMITY_STAGE_UNSPECIFIED;
}

bool IsOverdue(const v1::Nonconformity& nc, absl::Time now) {
  return nc.has_due_at() &&
         now >= absl::FromUnixSeconds(nc.due_at().seconds()) +
                    absl::Nanoseconds(nc.due_at().nanos()) &&
         nc.stage() >= v1::NONCONFORMITY_STAGE_OPEN &&
         nc.stage() <= v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED;
}

bool IsEnding(v1::NonconformityStage stage) {
  return stage == v1::NONCONFORMITY_STAGE_CLOSED ||
         stage == v1::NONCONFORMITY_STAGE_INVALID ||
         stage == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED;
}

}  // namespace aims::collector

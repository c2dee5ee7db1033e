// The names aims writes and reads for the enums of a plan and its
// evaluation: comparators ("<="), decisions ("sequential"), severities
// ("critical"), objective states ("firing") and nonconformity stages
// ("cause_analysed"), with what a stage means for a record (IsEnding,
// IsOverdue). They appear in plan
// files, audit records, Prometheus labels, aimsctl and the compliance report,
// so each has exactly one spelling, defined here.
//
// Thread-safety: pure functions.
#ifndef AIMS_COLLECTOR_PLAN_NAMES_H_
#define AIMS_COLLECTOR_PLAN_NAMES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"

namespace aims::collector {

enum class Comparator {
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kEqual,
  kNotEqual
};

// "<", "<=", ">", ">=", "==", "!=".
std::string ComparatorText(Comparator c);
std::optional<Comparator> ComparatorFromText(absl::string_view text);

// How an objective decides a breach (docs/metrics.md, "Decisions").
enum class Decision {
  kPoint,       // the value against the threshold
  kInterval,    // the value's interval wholly beyond the threshold
  kSequential,  // a CUSUM over consecutive windows, within a false-alarm budget
};

// "point", "interval", "sequential".
std::string DecisionName(Decision d);
std::optional<Decision> DecisionFromName(absl::string_view name);

// "info", "warning", "critical"; "unspecified" for anything else.
std::string SeverityText(v1::Severity s);
// Case-insensitive; nullopt for anything but the three names.
std::optional<v1::Severity> SeverityFromText(absl::string_view text);

// "inactive", "pending", "firing", "resolved", "insufficient_evidence",
// "possible_breach", and "unevaluated" for UNSPECIFIED (a series before its
// first evaluation).
std::string ObjectiveStateName(v1::ObjectiveState state);
// The inverse; UNSPECIFIED for an unknown name.
v1::ObjectiveState ObjectiveStateFromName(absl::string_view name);

// "open", "acknowledged", "cause_analysed", "action_recorded",
// "effectiveness_reviewed", "closed", "invalid", "risk_accepted";
// "unspecified" for anything else.
std::string StageName(v1::NonconformityStage stage);
// The inverse; UNSPECIFIED for an unknown name.
v1::NonconformityStage StageFromName(absl::string_view name);
// Closed, invalid or risk accepted: no 10.2 step follows (a risk
// acceptance reopens by itself when its date passes).
bool IsEnding(v1::NonconformityStage stage);
// Not yet past its corrective action (open, acknowledged, cause analysed)
// and `now` at or after its due date.
bool IsOverdue(const v1::Nonconformity& nc, absl::Time now);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_PLAN_NAMES_H_

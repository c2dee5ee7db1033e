// The state machine of one objective series (docs/monitoring-plan.md,
// "Evaluation"): Prometheus' alerting states plus insufficient evidence.
//
//   from                         verdict       to
//   unevaluated, inactive,       breached      pending (active_since = now),
//     resolved, insufficient                     firing at once when `for` is 0
//   pending                      breached      firing once now - active_since
//                                                >= for
//   unevaluated, pending,        holds         inactive
//     insufficient
//   firing                       holds         resolved once now - last_breach
//                                                >= keep_firing_for
//   any but firing               insufficient  insufficient evidence
//   firing                       insufficient  firing (recovery cannot be
//                                                shown)
//   unevaluated, inactive,       possible      possible breach (clears
//     resolved, insufficient,      breach        active_since; no
//     pending                                    nonconformity)
//   possible breach              breached      pending (active_since = now)
//   possible breach              holds         inactive
//   firing                       possible      firing (recovery cannot be
//                                  breach        shown)
//
// Anything else keeps its state; every breach sets last_breach (a possible
// breach does not). Entering
// firing sets fired_at (and clears resolved_at), entering resolved sets
// resolved_at; leaving pending or firing clears active_since.
// "Unevaluated" is OBJECTIVE_STATE_UNSPECIFIED, a series before its first
// evaluation. NextSeriesState only says what a step does; the evaluator
// writes it with its audit record, nonconformity and notifications.
//
// Thread-safety: pure functions.
#ifndef AIMS_COLLECTOR_EVALUATION_TRANSITION_H_
#define AIMS_COLLECTOR_EVALUATION_TRANSITION_H_

#include <optional>

#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"

namespace aims::collector {

// What one evaluation says about a series' value.
enum class Verdict {
  kHolds,     // `value comparator threshold` holds
  kBreached,  // it does not, and the evidence shows it (by the decision)
  // The value is beyond the threshold but the evidence does not show it:
  // its interval straddles the threshold, or a CUSUM is between half its
  // threshold and its threshold.
  kPossibleBreach,
  // Value missing, not applicable, or fewer samples than required: the
  // value can show neither.
  kInsufficientEvidence,
};

// A series' state and the times it depends on (nullopt: not set).
struct SeriesState {
  v1::ObjectiveState state = v1::OBJECTIVE_STATE_UNSPECIFIED;
  // Start of the current breach (pending, firing).
  std::optional<absl::Time> active_since;
  std::optional<absl::Time> last_breach;
  std::optional<absl::Time> fired_at;
  std::optional<absl::Time> resolved_at;

  friend bool operator==(const SeriesState&, const SeriesState&) = default;
};

// The objective's durations the machine needs.
struct AlertDurations {
  absl::Duration for_duration;     // breached this long before firing
  absl::Duration keep_firing_for;  // holds a firing series after recovery
};

// What a step does besides setting the next state.
enum class TransitionEffect {
  kNone,          // state unchanged (times may still move, e.g. last_breach)
  kStateChanged,  // a new state to record, no nonconformity step
  kFired,         // the series starts firing: a nonconformity opens or recurs
  kResolved,      // a firing series resolves: its nonconformity auto-resolves
};

struct SeriesTransition {
  SeriesState next;
  TransitionEffect effect = TransitionEffect::kNone;
};

// The step of a series in `previous` judged `verdict` at `now`.
SeriesTransition NextSeriesState(const SeriesState& previous, Verdict verdict,
                                 const AlertDurations& durations,
                                 absl::Time now);

// The state part of a stored series status, and back (other fields are left
// as they are).
SeriesState SeriesStateOf(const v1::ObjectiveStatus& status);
void SetSeriesState(const SeriesState& state, v1::ObjectiveStatus* status);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_TRANSITION_H_

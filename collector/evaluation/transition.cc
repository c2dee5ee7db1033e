#include "collector/evaluation/transition.h"

#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// A pending or firing series always has its times; were one missing, the
// series would count as breached since ever (firing, then resolving, at
// once) rather than never.
absl::Time OrSinceEver(const std::optional<absl::Time>& t) {
  return t.value_or(absl::InfinitePast());
}

TransitionEffect EffectOf(v1::ObjectiveState from, v1::ObjectiveState to) {
  if (from == to) return TransitionEffect::kNone;
  if (to == v1::OBJECTIVE_STATE_FIRING) return TransitionEffect::kFired;
  if (from == v1::OBJECTIVE_STATE_FIRING &&
      to == v1::OBJECTIVE_STATE_RESOLVED) {
    return TransitionEffect::kResolved;
  }
  return TransitionEffect::kStateChanged;
}

std::optional<absl::Time> TimeOf(bool present,
                                 const google::protobuf::Timestamp& t) {
  if (!present) return std::nullopt;
  return FromProto(t);
}

}  // namespace

SeriesTransition NextSeriesState(const SeriesState& previous, Verdict verdict,
                                 const AlertDurations& durations,
                                 absl::Time now) {
  SeriesState next = previous;
  const v1::ObjectiveState from = previous.state;
  switch (verdict) {
    case Verdict::kInsufficientEvidence:
      // A firing series stays firing: its recovery cannot be shown.
      if (from != v1::OBJECTIVE_STATE_FIRING) {
        next.state = v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE;
        next.active_since.reset();
      }
      break;
    case Verdict::kBreached:
      next.last_breach = now;
      if (from != v1::OBJECTIVE_STATE_PENDING &&
          from != v1::OBJECTIVE_STATE_FIRING) {
        next.state = v1::OBJECTIVE_STATE_PENDING;
        next.active_since = now;
      }
      // Checked right after entering pending too, so that `for` = 0 fires
      // on the first breach.
      if (next.state == v1::OBJECTIVE_STATE_PENDING &&
          now - OrSinceEver(next.active_since) >= durations.for_duration) {
        next.state = v1::OBJECTIVE_STATE_FIRING;
        next.fired_at = now;
        next.resolved_at.reset();
      }
      break;
    case Verdict::kPossibleBreach:
      // Not shown: nothing opens, and a firing series' recovery is not
      // shown either.
      if (from != v1::OBJECTIVE_STATE_FIRING) {
        next.state = v1::OBJECTIVE_STATE_POSSIBLE_BREACH;
        next.active_since.reset();
      }
      break;
    case Verdict::kHolds:
      if (from == v1::OBJECTIVE_STATE_PENDING ||
          from == v1::OBJECTIVE_STATE_POSSIBLE_BREACH ||
          from == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE ||
          from == v1::OBJECTIVE_STATE_UNSPECIFIED) {
        next.state = v1::OBJECTIVE_STATE_INACTIVE;
        next.active_since.reset();
      } else if (from == v1::OBJECTIVE_STATE_FIRING &&
                 now - OrSinceEver(previous.last_breach) >=
                     durations.keep_firing_for) {
        next.state = v1::OBJECTIVE_STATE_RESOLVED;
        next.resolved_at = now;
        next.active_since.reset();
      }
      break;
  }
  return {next, EffectOf(from, next.state)};
}

SeriesState SeriesStateOf(const v1::ObjectiveStatus& status) {
  SeriesState s;
  s.state = status.state();
  s.active_since = TimeOf(status.has_active_since(), status.active_since());
  s.last_breach = TimeOf(status.has_last_breach(), status.last_breach());
  s.fired_at = TimeOf(status.has_fired_at(), status.fired_at());
  s.resolved_at = TimeOf(status.has_resolved_at(), status.resolved_at());
  return s;
}

void SetSeriesState(const SeriesState& state, v1::ObjectiveStatus* status) {
  status->set_state(state.state);
  status->clear_active_since();
  status->clear_last_breach();
  status->clear_fired_at();
  status->clear_resolved_at();
  if (state.active_since)
    *status->mutable_active_since() = ToProto(*state.active_since);
  if (state.last_breach)
    *status->mutable_last_breach() = ToProto(*state.last_breach);
  if (state.fired_at) *status->mutable_fired_at() = ToProto(*state.fired_at);
  if (state.resolved_at)
    *status->mutable_resolved_at() = ToProto(*state.resolved_at);
}

}  // namespace aims::collector

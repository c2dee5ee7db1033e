// Windower: assigns accepted events to fixed, wall-clock-aligned windows of
// the agent's clock ([k*w, (k+1)*w)) and hands over each window's summary
// when it closes.
//
// Windows follow arrival time, not the event's own timestamp, so that a
// window closes on time whatever clocks model servers have; only the open
// window is held in memory (bounded by SummaryConfig limits and JoinLimits).
// Delayed labels are joined in the open window or forwarded in its report
// (agent/window_state.h).
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_AGENT_WINDOWER_H_
#define AIMS_AGENT_WINDOWER_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/window_state.h"
#include "common/base/clock.h"
#include "common/summary/window_accumulator.h"

namespace aims::agent {

struct ClosedWindow {
  absl::Time start;
  absl::Time end;
  v1::WindowSummary summary;
  // Join records of the predictions still awaiting a label, and the labels
  // to forward (WindowReport.predictions and .labels).
  google::protobuf::RepeatedPtrField<v1::PendingPrediction> predictions;
  google::protobuf::RepeatedPtrField<v1::LabelEvent> labels;
};

// What became of one delayed label (Windower::AddLabels).
struct LabelOutcome {
  LabelFate fate = LabelFate::kForwarded;
  absl::Duration delay;  // kJoined
  EventError error;      // kDuplicate, kFull
};

class Windower {
 public:
  // The first window starts no earlier than `not_before` (the end of the
  // last window spooled by an earlier run), so that windows never overlap.
  Windower(std::shared_ptr<const SummaryConfig> config, absl::Duration window,
           const Clock* clock, absl::Time not_before = absl::InfinitePast(),
           JoinLimits limits = JoinLimits());

  // Adds events that arrived at `arrival` to the window open now (closing
  // an expired one first); returns that window's start. `duplicates`
  // (optional) receives the positions of events not added because their
  // prediction_id awaits its label in the open window (resends).
  absl::Time Add(const std::vector<Event>& events,
                 std::vector<size_t>* duplicates = nullptr,
                 absl::Time arrival = absl::InfinitePast());
  void CountRejected(absl::string_view reason, uint64_t n);
  // Joins delayed labels that arrived at `arrival` to predictions awaiting
  // them in the open window, or keeps them to forward in its report (see
  // agent/window_state.h); `outcomes` gets one per label. Returns the open
  // window's start.
  absl::Time AddLabels(const std::vector<LabelEvent>& labels,
                       absl::Time arrival, std::vector<LabelOutcome>* outcomes);
  // Where the open window starts.
  absl::Time current_start() const;
  // Values beyond the summary limits (WindowAccumulator::overflows()) added
  // since the last call, across windows.
  LimitOverflows TakeOverflows();
  // Predictions not joinable (beyond --max_pending_prediction_bytes) since
  // the last call.
  uint64_t TakeUnjoinable();
  // Predictions awaiting a label in the open window, and their bytes.
  size_t pending_predictions() const;
  uint64_t pending_bytes() const;

  // Closes the open window if its end has passed; returns it unless it was
  // empty (no events, rejections or labels).
  std::optional<ClosedWindow> CloseIfDue();
  // Closes the open window now, whatever its end (shutdown); [start, now).
  std::optional<ClosedWindow> CloseNow();
  // When the open window ends.
  absl::Time current_end() const;

  // The open window so far, when it starts at `window_start` (nullopt
  // otherwise, or when it holds nothing new): its summary (everything
  // folded since it opened, merged with earlier checkpoints), the
  // predictions awaiting a label and the labels to forward. The window goes
  // on with an empty accumulator and closes with the checkpoint merged in,
  // so its memory and the intake log's segment stay bounded however busy
  // it is.
  absl::StatusOr<std::optional<v1::WindowReport>> Checkpoint(
      absl::Time window_start);
  // Replay: the open window continues from `checkpoint` (a Checkpoint()).
  void RestoreCheckpoint(v1::WindowReport checkpoint);
  // While replaying (the intake log at start), the open window does not
  // roll over: the events of its log segment must all land in it however
  // long the replay takes (a window that closed halfway would leave the
  // rest in the next window, which no segment holds). The first tick after
  // closes it.
  void SetReplaying(bool replaying);
  // Windows opened from now on summarise with `config` (e.g. a new
  // reference profile); the open window keeps the one it started with
  // unless it is still empty.
  void SetConfig(std::shared_ptr<const SummaryConfig> config);

 private:
  struct Open {
    absl::Time start;
    absl::Time end;
    std::unique_ptr<WindowState> state;
    // Whether Checkpoint() has anything new since the last one.
    bool changed = false;
  };
  void RollLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<ClosedWindow> TakeLocked(absl::Time end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time AlignedStart(absl::Time now) const;

  std::shared_ptr<const SummaryConfig> config_ ABSL_GUARDED_BY(mu_);
  const absl::Duration window_;
  const Clock* const clock_;
  const JoinLimits limits_;
  mutable absl::Mutex mu_;
  Open open_ ABSL_GUARDED_BY(mu_);
  LimitOverflows overflows_ ABSL_GUARDED_BY(mu_);
  uint64_t unjoinable_ ABSL_GUARDED_BY(mu_) = 0;
  // Windows that expired while events kept arriving, not yet taken.
  std::vector<ClosedWindow> ready_ ABSL_GUARDED_BY(mu_);
  bool replaying_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_WINDOWER_H_

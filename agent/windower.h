// Windower: assigns accepted events to fixed, aligned windows
// ([k*w, (k+1)*w)) and hands over each window's report when it closes.
//
// Event time (docs/events.md, "Event time"): an event goes to the window of
// its `timestamp` when it has one and the windower is in event time (else
// to the window of its arrival). A window is reported when it ends on the
// agent's clock (so evidence is not held back), and stays open for events
// of its time for `lateness` more: those arriving then go into a second
// ("straggler") instance of the window, reported when the lateness has
// passed. An event later than that is still taken, into an extra ("late")
// instance that closes at the next tick, its events counted in late_events.
// At most `max_open_windows` instances are open at once (each bounded by
// SummaryConfig and JoinLimits); an event that would open one more is
// refused (Routes::refused).
//
// Each open instance has a key, the name of its intake log segment: the
// window's start; plus 1..499 ms for a straggler instance, 500..999 ms for
// a late one. A delayed label is forwarded in the instance where its
// prediction waits (so that its join record goes in the same report), else
// in the instance of its arrival's window (common/summary/window_state.h).
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_AGENT_WINDOWER_H_
#define AIMS_AGENT_WINDOWER_H_

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/summary/window_accumulator.h"
#include "common/summary/window_state.h"

namespace aims::agent {

struct ClosedWindow {
  absl::Time start;
  absl::Time end;
  v1::WindowSummary summary;
  // Join records of the predictions awaiting a delayed label, and the
  // labels to forward (WindowReport.predictions and .labels).
  google::protobuf::RepeatedPtrField<v1::PendingPrediction> predictions;
  google::protobuf::RepeatedPtrField<v1::LabelEvent> labels;
  // The instance's key: its intake log segment.
  absl::Time key = absl::InfinitePast();
};

// What became of one delayed label (Windower::AddLabels).
struct LabelOutcome {
  LabelFate fate = LabelFate::kForwarded;
  EventError error;  // kFull
  absl::Time key;    // the instance it went to (kForwarded)
};

struct WindowerOptions {
  absl::Duration window = absl::Seconds(10);
  // Event time: windows by the event's timestamp (else by arrival).
  bool event_time = false;
  absl::Duration lateness = absl::ZeroDuration();
  size_t max_open_windows = 256;
  JoinLimits join;
  // The window that holds this time (the end of the last window spooled by
  // an earlier run, cut short at its stop) is reported from it on, so that
  // the two reports of it do not overlap.
  absl::Time not_before = absl::InfinitePast();
};

class Windower {
 public:
  Windower(std::shared_ptr<const SummaryConfig> config, WindowerOptions options,
           const Clock* clock);
  // Arrival time, no lateness (tests).
  Windower(std::shared_ptr<const SummaryConfig> config, absl::Duration window,
           const Clock* clock, absl::Time not_before = absl::InfinitePast(),
           JoinLimits limits = JoinLimits());

  // Where the events of one Add went.
  struct Routes {
    // Instance key -> positions (in `events`) of the events folded in it.
    std::map<absl::Time, std::vector<size_t>> folded;
    // Positions of events not folded: their prediction_id awaits its label
    // in an open instance (resends).
    std::vector<size_t> duplicates;
    // Positions of events refused: their window would be one more than
    // max_open_windows.
    std::vector<size_t> refused;
  };
  // Adds events that arrived at `arrival` (InfinitePast: now) to their
  // windows (closing expired ones first).
  Routes AddEvents(const std::vector<Event>& events,
                   absl::Time arrival = absl::InfinitePast());
  // AddEvents, returning the key of the first instance used (or of the
  // arrival window); `duplicates` as Routes::duplicates.
  absl::Time Add(const std::vector<Event>& events,
                 std::vector<size_t>* duplicates = nullptr,
                 absl::Time arrival = absl::InfinitePast());
  // Replay: folds `events` into instance `key` (opening it), unbounded.
  void AddTo(absl::Time key, const std::vector<Event>& events,
             absl::Time arrival);
  void CountRejected(absl::string_view reason, uint64_t n);
  // Keeps delayed labels that arrived at `arrival` to forward in the open
  // instance where their prediction awaits a label, else in the instance of
  // the arrival's window; `outcomes` gets one per label. Returns the key of
  // the arrival's window.
  absl::Time AddLabels(const std::vector<LabelEvent>& labels,
                       absl::Time arrival, std::vector<LabelOutcome>* outcomes);
  // Replay: the same within instance `key` only, beyond the window's label
  // bounds (the labels were accepted before the restart).
  void AddLabelsTo(absl::Time key, const std::vector<LabelEvent>& labels,
                   absl::Time arrival);
  // Where the arrival window of now starts.
  absl::Time current_start() const;
  // When the arrival window of now ends.
  absl::Time current_end() const;
  // Values beyond the summary limits (WindowAccumulator::overflows()) added
  // since the last call, across windows.
  LimitOverflows TakeOverflows();
  // Predictions not joinable (beyond --max_pending_prediction_bytes) since
  // the last call.
  uint64_t TakeUnjoinable();
  // Predictions awaiting a label in the open instances, and their bytes.
  size_t pending_predictions() const;
  uint64_t pending_bytes() const;
  size_t open_windows() const;

  // Closes the instances that are due (on-time ones whose end has passed,
  // stragglers whose end + lateness has, late ones at once); returns one
  // (oldest first) unless none.
  std::optional<ClosedWindow> CloseIfDue();
  // Closes the instances one by one now, whatever their end (shutdown);
  // on-time ones end now at the latest.
  std::optional<ClosedWindow> CloseNow();

  // The open instance `key` so far (nullopt when there is none, or nothing
  // new since the last checkpoint): its summary (merged with earlier
  // checkpoints), the predictions awaiting a label and the labels to
  // forward. The instance goes on with an empty accumulator and closes with
  // the checkpoint merged in, so its memory and its intake log segment stay
  // bounded however busy it is.
  absl::StatusOr<std::optional<v1::WindowReport>> Checkpoint(absl::Time key);
  // Replay: instance `key` continues from `checkpoint` (a Checkpoint()).
  void RestoreCheckpoint(absl::Time key, v1::WindowReport checkpoint);
  // The instance of the arrival window of now (tests).
  void RestoreCheckpoint(v1::WindowReport checkpoint);
  // While replaying (the intake log at start), no instance closes: the
  // records of each segment must all land in its instance however long the
  // replay takes. The first tick after closes what is due.
  void SetReplaying(bool replaying);
  // Instances opened from now on summarise with `config` (e.g. a new
  // reference profile); open ones keep theirs unless still empty.
  void SetConfig(std::shared_ptr<const SummaryConfig> config);

 private:
  enum class Kind { kOnTime, kStraggler, kLate };
  struct Open {
    absl::Time start;  // of its report
    absl::Time end;
    Kind kind = Kind::kOnTime;
    std::unique_ptr<WindowState> state;
    // Whether Checkpoint() has anything new since the last one.
    bool changed = false;
  };
  absl::Time AlignedStart(absl::Time t) const;
  // The kind of instance `key` names (see the file comment).
  static Kind KindOf(absl::Time key, absl::Time aligned);
  // Closes due instances into ready_ (late ones only when `tick`).
  void RollLocked(absl::Time now, bool tick) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseLocked(std::map<absl::Time, Open>::iterator it, absl::Time end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The instance `key` (opened when missing).
  Open& InstanceLocked(absl::Time key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The key of the instance an event of window `aligned` that arrives at
  // `arrival` goes to; nullopt when it would exceed max_open_windows.
  std::optional<absl::Time> KeyForLocked(absl::Time aligned, absl::Time arrival)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<const SummaryConfig> config_ ABSL_GUARDED_BY(mu_);
  const WindowerOptions options_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<absl::Time, Open> open_ ABSL_GUARDED_BY(mu_);
  LimitOverflows overflows_ ABSL_GUARDED_BY(mu_);
  uint64_t unjoinable_ ABSL_GUARDED_BY(mu_) = 0;
  // Extra instances opened so far (their keys cycle through their range).
  uint64_t extra_opened_ ABSL_GUARDED_BY(mu_) = 0;
  // Closed instances not yet taken, oldest first.
  std::vector<ClosedWindow> ready_ ABSL_GUARDED_BY(mu_);
  bool replaying_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_WINDOWER_H_

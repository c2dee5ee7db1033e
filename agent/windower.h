// Windower: assigns accepted events to fixed, wall-clock-aligned windows of
// the agent's clock ([k*w, (k+1)*w)) and hands over each window's summary
// when it closes.
//
// Windows follow arrival time, not the event's own timestamp, so that a
// window closes on time whatever clocks model servers have; only the open
// window is held in memory (bounded by SummaryConfig limits).
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
#include "agent/label_store.h"
#include "common/base/clock.h"
#include "common/summary/window_accumulator.h"

namespace aims::agent {

struct ClosedWindow {
  absl::Time start;
  absl::Time end;
  v1::WindowSummary summary;
};

class Windower {
 public:
  // The first window starts no earlier than `not_before` (the end of the
  // last window spooled by an earlier run), so that windows never overlap.
  Windower(std::shared_ptr<const SummaryConfig> config, absl::Duration window,
           const Clock* clock, absl::Time not_before = absl::InfinitePast());

  // Adds events to the window open now (closing an expired one first);
  // returns that window's start.
  absl::Time Add(const std::vector<Event>& events);
  void CountRejected(absl::string_view reason, uint64_t n);
  // Folds delayed labels into the open window (late when their prediction
  // arrived before it opened), and counts labels that found no prediction
  // and predictions evicted unlabelled.
  // Returns how many were late; `window_start` (optional) receives the start
  // of the window they went to.
  size_t AddJoinedLabels(const std::vector<JoinedLabel>& labels,
                         absl::Time* window_start = nullptr);
  // Where the open window starts.
  absl::Time current_start() const;
  void CountLabelMisses(uint64_t unmatched, uint64_t evicted);
  // Values beyond the summary limits (WindowAccumulator::overflows()) added
  // since the last call, across windows.
  LimitOverflows TakeOverflows();

  // Closes the open window if its end has passed; returns it unless it was
  // empty (no events, rejections or labels).
  std::optional<ClosedWindow> CloseIfDue();
  // Closes the open window now, whatever its end (shutdown); [start, now).
  std::optional<ClosedWindow> CloseNow();
  // When the open window ends.
  absl::Time current_end() const;

  // The open window's summary so far, when it starts at `window_start`
  // (nullopt otherwise, or when it holds nothing): everything folded since
  // it opened, merged with earlier checkpoints. The window goes on with an
  // empty accumulator and closes with the checkpoint merged in, so its
  // memory and the intake log's segment stay bounded however busy it is.
  absl::StatusOr<std::optional<v1::WindowSummary>> Checkpoint(
      absl::Time window_start);
  // Replay: the open window continues from `summary` (a checkpoint of it).
  void RestoreCheckpoint(v1::WindowSummary summary);
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
    std::unique_ptr<WindowAccumulator> acc;
    std::shared_ptr<const SummaryConfig> config;  // acc's
    // What Checkpoint() took out of acc, merged.
    std::optional<v1::WindowSummary> checkpoint;
    // Anything besides accepted events: rejections, labels, misses.
    uint64_t other_activity = 0;
  };
  void RollLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<ClosedWindow> TakeLocked(absl::Time end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time AlignedStart(absl::Time now) const;
  void NewAccumulatorLocked(std::shared_ptr<const SummaryConfig> config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<const SummaryConfig> config_ ABSL_GUARDED_BY(mu_);
  const absl::Duration window_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  Open open_ ABSL_GUARDED_BY(mu_);
  LimitOverflows overflows_ ABSL_GUARDED_BY(mu_);
  // Windows that expired while events kept arriving, not yet taken.
  std::vector<ClosedWindow> ready_ ABSL_GUARDED_BY(mu_);
  bool replaying_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_WINDOWER_H_

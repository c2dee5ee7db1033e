// WindowState: one window the agent holds open - its accumulator, the
// predictions of the window that wait for a delayed label, and the delayed
// labels the agent takes during the window. aimsctl backfill folds each of
// its windows in one too, so its reports carry the same join records.
//
// Delayed labels (docs/events.md, "Delayed labels"): the agent joins none;
// the collector's central join is the one place a label meets its
// prediction, so that a later label for it replaces an earlier one.
//  - an event with a prediction_id and no inline label is remembered as a
//    pending prediction (bounded by JoinLimits::max_pending_bytes; beyond
//    it the prediction is folded but counted in labels_evicted, not
//    joinable);
//  - every delayed label is kept to be forwarded in this window's report
//    (WindowReport.labels), bounded in count and bytes (beyond: refused
//    with a per-item limit error); a label for a prediction pending here
//    leaves it pending, so its record and the label go in the same report;
//  - at close, every pending prediction goes into the report as a join
//    record (WindowReport.predictions, groups and slices as folded) and is
//    counted in labels_awaited.
// An event whose prediction_id is pending here already is a resend: it is
// refused (counted once).
//
// Checkpoint() takes the summary so far out of the accumulator (bounding
// it) and returns it with the pending predictions and forwarded labels, so
// that Restore() of the intake log (agent/intake_log.h) rebuilds the window
// exactly.
//
// Thread-safety: not thread-safe; the agent's Windower serialises access.
#ifndef AIMS_COMMON_SUMMARY_WINDOW_STATE_H_
#define AIMS_COMMON_SUMMARY_WINDOW_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aims/v1/ingest.pb.h"
#include "common/summary/event.h"
#include "common/summary/window_accumulator.h"

namespace aims {

struct JoinLimits {
  // Bytes of pending predictions one window holds
  // (--max_pending_prediction_bytes).
  uint64_t max_pending_bytes = 16ull << 20;
  // Labels one window forwards (--max_forwarded_labels) and their bytes
  // (--max_forwarded_label_bytes).
  uint64_t max_forwarded_labels = 100'000;
  uint64_t max_forwarded_bytes = 8ull << 20;
};

// What became of a delayed label.
enum class LabelFate {
  kForwarded,  // kept for the collector's central join
  kFull,       // refused: the window forwards no more labels
};

class WindowState {
 public:
  WindowState(std::shared_ptr<const SummaryConfig> config,
              const JoinLimits* limits);

  // Folds `events` (arrived at `arrival`) but those whose prediction_id is
  // pending here; returns the positions of those (resends, not folded).
  std::vector<size_t> Add(const std::vector<Event>& events, absl::Time arrival);
  // Keeps one label that arrived at `now` to forward (its timestamp, when
  // not given, becomes `now`: when the truth became known); `error`
  // receives the reason of a refused one.
  LabelFate AddLabel(const LabelEvent& label, absl::Time now,
                     EventError* error);
  // Replay of the agent's intake log: keeps `label` to forward as AddLabel
  // does, beyond the bounds: it was accepted before the restart (or joined
  // by an agent of before the central join), and an accepted label is never
  // lost.
  void RestoreLabel(const LabelEvent& label, absl::Time now);
  void CountRejected(absl::string_view reason, uint64_t n);

  // Nothing folded, rejected, pending or forwarded since it opened.
  bool empty() const;
  // Values beyond the summary limits since the last call.
  LimitOverflows TakeOverflows();
  // Predictions beyond max_pending_bytes since the last call.
  uint64_t TakeUnjoinable();

  // See the file comment: summary so far (merged with earlier checkpoints),
  // pending predictions (as received) and forwarded labels.
  absl::StatusOr<v1::WindowReport> Checkpoint();
  // Continues from a Checkpoint() of this window.
  void Restore(v1::WindowReport checkpoint);
  // The window's report: summary (labels_awaited set), join records with
  // groups and slices as folded, forwarded labels. Leaves the state empty.
  v1::WindowReport Take();

  // Starts over with `config` when empty (a new profile); false otherwise.
  bool SetConfigIfEmpty(std::shared_ptr<const SummaryConfig> config);

  // Whether a prediction of this id awaits its label here.
  bool Waiting(const std::string& prediction_id) const {
    return pending_.contains(prediction_id);
  }
  size_t pending_count() const { return pending_.size(); }
  uint64_t pending_bytes() const { return pending_bytes_; }
  size_t forwarded_count() const { return forwarded_.size(); }

 private:
  struct Pending {
    absl::Time predicted_at;
    Outcome prediction;
    std::optional<double> score;
    std::vector<std::pair<std::string, double>> probabilities;
    std::vector<std::pair<std::string, std::string>> attributes;
    // Slice key -> value, for keys that are not attributes (categorical
    // features).
    std::vector<std::pair<std::string, std::string>> slices;
  };
  static uint64_t BytesOf(const std::string& id, const Pending& p);
  void Remember(const Event& e, absl::Time arrival);
  v1::PendingPrediction RecordOf(const std::string& id, const Pending& p) const;

  std::shared_ptr<const SummaryConfig> config_;
  const JoinLimits* const limits_;
  std::unique_ptr<WindowAccumulator> acc_;
  // What Checkpoint() took out of acc_, merged.
  std::optional<v1::WindowSummary> checkpoint_;
  // Rejections and unjoinable predictions since the last checkpoint.
  uint64_t other_activity_ = 0;
  absl::flat_hash_map<std::string, Pending> pending_;
  uint64_t pending_bytes_ = 0;
  uint64_t unjoinable_ = 0;
  std::vector<v1::LabelEvent> forwarded_;
  uint64_t forwarded_bytes_ = 0;
  LimitOverflows overflows_;
};

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_WINDOW_STATE_H_

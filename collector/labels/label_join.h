// LabelJoin: the collector's central join of delayed ground-truth labels to
// the predictions they name (docs/events.md, "Delayed labels").
//
// Contract:
//  - Join records (WindowReport.predictions) are stored with their report,
//    in the same durable batch (WriteReports): a duplicate or expired report
//    adds none. A record is keyed by (model name, environment,
//    prediction_id) and remembers the report's version and window; a second
//    record for the same id is ignored (counted).
//  - Labels (forwarded in WindowReport.labels, or posted: Submit) are
//    durable before Submit or WriteReports returns. A label for a known
//    record joins it; a second label for the same prediction replaces the
//    first (a correction; the same value again changes nothing) unless its
//    timestamp (when the truth became known; its arrival when not given) is
//    earlier than the first's; a label whose record is unknown waits
//    (pending, with the same rule) until the record arrives or the TTL ends
//    (then it is counted unmatched). A report's labels are staged after its
//    records, so a label finds its record in the same report.
//  - Credit: each window with joined labels has a label report
//    (Storage::PutLabelReport), recomputed from the window's records by
//    Flush() (batched: a label storm rewrites a window once per flush), so
//    it counts every joined label of the window exactly once, with its
//    latest value. A window marked for recomputation stays marked durably
//    until its report is written, so a crash loses no credit.
//  - Bounds (applied by Expire): pending labels older than `ttl` are
//    dropped and counted unmatched (reason "ttl"). `max_bytes` bounds
//    records and pending labels together: while over it, the oldest
//    pending labels (by arrival) are dropped first, counted unmatched
//    (reason "bytes") and in pending_evicted, so that a flood of labels
//    for unknown predictions never evicts a prediction's record; only then
//    are windows of records evicted, oldest first. A window's records are
//    kept until the window is `ttl` old or evicted by the bound; either way
//    the window's label report is written one last time with
//    labels_evicted = its unlabelled predictions, and its records are
//    deleted in the same batch.
//
// Thread-safety: safe for concurrent use. One mutex serialises every write
// of the join (report batches that carry join data, label submits,
// flushes and expiry), so that a label and its record never miss each
// other; lock order: this mutex, then the storage's.
#ifndef AIMS_COLLECTOR_LABELS_LABEL_JOIN_H_
#define AIMS_COLLECTOR_LABELS_LABEL_JOIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "aims/v1/storage.pb.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"
#include "common/summary/event.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace aims::collector {

struct LabelJoinOptions {
  // --label_ttl: how long a prediction waits for its label, and a label for
  // its prediction.
  absl::Duration ttl = absl::Hours(24 * 30);
  // --label_join_max_bytes: bound on the join's stored records.
  uint64_t max_bytes = uint64_t{1} << 30;
  // How often the background loop recomputes changed windows.
  absl::Duration flush_interval = absl::Seconds(1);
  // How often it applies the TTL and the byte bound.
  absl::Duration expire_interval = absl::Minutes(1);
  // Called after the label report of `model`'s window [start, end) was
  // written (the evaluator's catch-up judges the changed past window); must
  // not block.
  std::function<void(const v1::ModelRef& model, absl::Time start,
                     absl::Time end)>
      on_credit;
};

// What the join holds and has done since it opened (records, bytes and
// pending since the data directory was created).
struct LabelJoinCounts {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t pending = 0;
  uint64_t dirty_windows = 0;
  uint64_t joins = 0;
  uint64_t corrections = 0;
  uint64_t repeated = 0;   // the same label again: counted once
  uint64_t stale = 0;      // older than the label in force: not applied
  uint64_t evicted = 0;    // unlabelled predictions evicted (TTL or bytes)
  uint64_t unmatched = 0;  // pending labels dropped (TTL or bytes)
  uint64_t pending_evicted = 0;  // of which dropped by the byte bound
  uint64_t windows_written = 0;
  uint64_t records_ignored = 0;  // invalid, or a prediction_id known already
};

class LabelJoin {
 public:
  // Loads the counts and the windows still to recompute. `registry`
  // (optional) receives the aims_collector_label_* metrics.
  static absl::StatusOr<std::unique_ptr<LabelJoin>> Open(
      Storage* storage, const Clock* clock, LabelJoinOptions options,
      prometheus::Registry* registry);
  ~LabelJoin();  // Stops the loop.

  // Storage::WriteEncodedReports for a batch of reports, storing the join
  // records and labels of each (EncodedReport::label_bytes) in the same
  // batch; `reports` may be modified (their on_store mutations).
  absl::Status WriteReports(absl::Span<EncodedReport* const> reports,
                            absl::Time now,
                            std::vector<WriteOutcome>* outcomes);

  // Labels posted for `model`'s predictions (name and environment; the
  // version is ignored), each valid. Durable when it returns OK.
  absl::Status Submit(const v1::ModelRef& model,
                      const std::vector<LabelEvent>& labels, absl::Time now);

  // Recomputes the label reports of changed windows (at most `max_windows`);
  // returns how many it wrote.
  absl::StatusOr<int> Flush(size_t max_windows = 1000);
  // Applies the TTL and the byte bound at `now`; returns the windows
  // evicted.
  absl::StatusOr<int> Expire(absl::Time now);

  // Flush() every flush_interval and Expire() every expire_interval on a
  // thread, until the destructor (which flushes once more).
  void Start();

  LabelJoinCounts counts() const;

  // The join records of `model`'s window starting at `start`, with the
  // label in force of each, as the wire form of WindowReport fields
  // (predictions, labels): what a report of the window carried, for a
  // copy to a peer collector that is read back from storage (the stored
  // report keeps none). Empty when the window has none.
  absl::StatusOr<std::string> CarriedBytes(const v1::ModelRef& model,
                                           absl::Time start) const;

  // What a report carries for the join (label_bytes read on the wire): its
  // records as received, each with its prediction_id, and its labels.
  struct CarriedPrediction {
    absl::string_view bytes;  // a PendingPrediction
    absl::string_view id;
  };
  struct Carried {
    std::vector<CarriedPrediction> predictions;
    std::vector<v1::LabelEvent> labels;
  };

 private:
  struct Staged;
  struct Metrics;

  LabelJoin(Storage* storage, const Clock* clock, LabelJoinOptions options);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stages the join records and labels `carried` by one report of `model`.
  // `labels_follow`: a report of the batch carries labels, which may look
  // the records up.
  absl::Status StageReport(const EncodedReport& report, const Carried& carried,
                           const v1::ModelRef& model, absl::Time now,
                           bool labels_follow, Staged* staged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stages one label for (name, environment).
  absl::Status StageLabel(const std::string& model_key,
                          const v1::LabelEvent& label, absl::Time now,
                          Staged* staged) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Commit(const Staged& staged) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the label report of window `window_key`; with `evict`, for the
  // last time, deleting its records.
  absl::Status FlushWindow(const std::string& window_key, bool evict)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the pending labels past the TTL, then the oldest while the join
  // is over max_bytes.
  absl::Status ExpirePending(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  Storage* const storage_;
  const Clock* const clock_;
  const LabelJoinOptions options_;
  std::unique_ptr<Metrics> metrics_;

  mutable absl::Mutex mu_;
  LabelJoinCounts counts_ ABSL_GUARDED_BY(mu_);
  // Windows to recompute -> a generation, raised by each change.
  absl::btree_map<std::string, uint64_t> dirty_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_LABELS_LABEL_JOIN_H_

// LabelStore: the agent's bounded, persistent join store for delayed ground
// truth. Predictions that carry a prediction_id and no inline label are
// remembered (prediction, score, sensitive attributes, arrival time) until
// their label arrives (POST /v1/labels), they expire after `ttl`, or they are
// evicted oldest-first when more than `max_entries` wait. A prediction_id
// that is waiting is not taken again (see Remember): a resent prediction is
// counted once.
//
// Kept in RocksDB under <data_dir>/labels (write-ahead logged, not fsynced:
// it survives a process crash; a machine crash may forget the newest
// predictions, whose labels then count as unmatched).
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_AGENT_LABEL_STORE_H_
#define AIMS_AGENT_LABEL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/summary/event.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace aims::agent {

struct LabelStoreOptions {
  std::string dir = "./var/aims-agent";
  size_t max_entries = 1'000'000;
  absl::Duration ttl = absl::Hours(24);
};

// A label joined to its prediction: `event` has the prediction, score,
// attributes and now the label.
struct JoinedLabel {
  Event event;
  absl::Time predicted_at;
  absl::Time labelled_at;
};

// Joined labels as bytes (for the agent's intake log) and back; labelled_at
// is not kept (the log record's arrival is).
std::string EncodeJoinedLabels(const std::vector<JoinedLabel>& labels);
absl::StatusOr<std::vector<JoinedLabel>> DecodeJoinedLabels(
    absl::string_view bytes, absl::Time labelled_at);

class LabelStore {
 public:
  static absl::StatusOr<std::unique_ptr<LabelStore>> Open(
      const LabelStoreOptions& options);
  ~LabelStore();

  struct Remembered {
    // Older predictions evicted to stay within max_entries.
    uint64_t evicted = 0;
    // Positions in `events` of events whose prediction_id is already
    // waiting here (or repeats an earlier event of the call): duplicates,
    // neither stored nor replacing the prediction that waits.
    std::vector<size_t> duplicates;
  };
  // Remembers the events that have a prediction_id and no label, and finds
  // the duplicates among all events that have a prediction_id (the check
  // and the write are one step: concurrent calls cannot both store an id).
  absl::StatusOr<Remembered> Remember(const std::vector<Event>& events,
                                      absl::Time arrived);
  // Joins labels to remembered predictions (each prediction joins once).
  // `unmatched` counts labels whose prediction is unknown or gone.
  absl::Status Join(const std::vector<LabelEvent>& labels, absl::Time now,
                    std::vector<JoinedLabel>* joined, uint64_t* unmatched);
  // Drops predictions older than the TTL; returns how many.
  absl::StatusOr<uint64_t> Expire(absl::Time now);

  size_t size() const;
  size_t capacity() const { return options_.max_entries; }

 private:
  explicit LabelStore(LabelStoreOptions options);
  absl::Status Load();
  // Deletes the oldest entries while `keep_below` is exceeded or they are
  // older than `cutoff`; returns how many went.
  absl::StatusOr<uint64_t> EvictLocked(size_t keep_below, absl::Time cutoff)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LabelStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  mutable absl::Mutex mu_;
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_LABEL_STORE_H_

// CatchUpQueue: per model, the spans of event time whose stored data changed
// behind the watermark (a backfill, late events, labels credited to a past
// window) and that the evaluator has not judged again yet
// (docs/monitoring-plan.md, "Catch-up").
//
// Note() only records the span in memory (it is called on the ingest's
// writer threads for every report behind the watermark); Persist() writes
// the models whose spans changed to Table::kMeta ("catch_up\x1f" + model),
// so what is queued survives a restart once the evaluator's next pass has
// run. Spans of one model are merged when they touch and bounded to
// kMaxSpans (the two closest are merged beyond it: more is judged, nothing
// is lost).
//
// Thread-safety: safe (one mutex).
#ifndef AIMS_COLLECTOR_EVALUATION_CATCH_UP_H_
#define AIMS_COLLECTOR_EVALUATION_CATCH_UP_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/query.pb.h"
#include "collector/storage/storage.h"

namespace aims::collector {

// Where a stored report comes from: a live agent's window, a live agent's
// report of a window it had reported already (late events, late labels), or
// a backfill (Hello.backfill). Evidence.found_by names the last two.
enum class WindowOrigin { kLive, kLate, kBackfill };

class CatchUpQueue {
 public:
  explicit CatchUpQueue(Storage* storage) : storage_(storage) {}

  static constexpr size_t kMaxSpans = 256;

  struct Span {
    absl::Time from;
    absl::Time to;
    bool backfilled = false;  // some of it came from a backfill
  };

  // Reads the persisted spans.
  absl::Status Load();
  // Queues [from, to) of `model` (memory only until Persist()).
  void Note(const v1::ModelRef& model, absl::Time from, absl::Time to,
            WindowOrigin origin);
  // Writes the models whose spans changed since the last Persist().
  absl::Status Persist();
  // The models with queued spans.
  std::vector<v1::ModelRef> Models() const;
  // The earliest queued part of `model`, clipped to [oldest, until) and to
  // at most `max_length` from its start; spans or parts before `oldest` are
  // dropped (counted in `*dropped`); parts after `until` (the watermark)
  // wait. nullopt when nothing is ready.
  std::optional<Span> Next(const v1::ModelRef& model, absl::Time oldest,
                           absl::Time until, absl::Duration max_length,
                           int* dropped);
  // Removes [span.from, span.to) from `model`'s queue (memory; Persist()
  // writes it).
  void Done(const v1::ModelRef& model, const Span& span);
  // Drops everything queued for `model` (no objective judges it).
  void Clear(const v1::ModelRef& model);

 private:
  struct Queue {
    v1::ModelRef model;
    std::vector<Span> spans;  // sorted by start, disjoint
  };
  static std::string Key(const v1::ModelRef& model);
  static std::string Encode(const Queue& queue);
  static bool Decode(const std::string& text, Queue* queue);
  void MarkDirty(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Storage* const storage_;
  mutable absl::Mutex mu_;
  // By Key(model).
  std::map<std::string, Queue> queues_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_CATCH_UP_H_

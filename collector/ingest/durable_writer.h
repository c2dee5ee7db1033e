// DurableWriter: the single writer between ingest streams and Storage.
//
// Streams submit work without blocking (gRPC reactors must never block);
// one thread drains the bounded queue, writes consecutive reports of all
// streams as one atomic, durable batch (group commit), and then runs each
// item's completion. Completions run on the writer thread, in submission
// order, only after the item is durable (or failed).
//
// Bound: at most `capacity` items and `max_queued_bytes` of report bytes
// wait (one item is always taken when the queue is empty); Submit() fails
// fast beyond either and the caller answers RESOURCE_EXHAUSTED. Depth and
// bytes are exported as metrics.
//
// Thread-safety: Submit() may be called from any thread.
#ifndef AIMS_COLLECTOR_INGEST_DURABLE_WRITER_H_
#define AIMS_COLLECTOR_INGEST_DURABLE_WRITER_H_

#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/ingest.pb.h"
#include "collector/labels/label_join.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"

namespace aims::collector {

class AuditTrail;

struct WriteResult {
  absl::Status status;
  // Reports: whether it was already stored.
  bool duplicate = false;
  // Reports: older than the raw retention horizon, acknowledged unstored.
  bool expired = false;
  // Hellos: the agent's highest durable sequence.
  uint64_t durable_sequence = 0;
  // Gaps: sequences of the range the collector does not hold.
  uint64_t missing = 0;
  // Hellos: the model version's reference profile, if one is stored.
  std::optional<v1::ReferenceProfile> profile;
  // Hellos: the replica slot leased to the agent (Storage::
  // RegisterAgentInSlot).
  uint32_t slot = 0;
};

class DurableWriter {
 public:
  using Done = std::function<void(const WriteResult&)>;

  // `audit` (optional) records agent connects and gaps in the audit trail;
  // a hello or gap counts as written only once its record is.
  static constexpr size_t kNoByteLimit = ~size_t{0};
  DurableWriter(Storage* storage, const Clock* clock, size_t capacity,
                size_t max_batch = 256, AuditTrail* audit = nullptr,
                size_t max_queued_bytes = kNoByteLimit);
  ~DurableWriter();  // Drains what was submitted, then stops.

  // Each returns false (and runs nothing) when the queue is full or the
  // writer is stopping.
  // `connected` tells which agents hold their replica slot (null: all that
  // have not left).
  bool SubmitHello(v1::Hello hello, Done done,
                   std::function<bool(const std::string&)> connected = {});
  bool SubmitReport(EncodedReport report, Done done);
  bool SubmitGap(v1::GapNotice gap, Done done);
  // The agent leaves for good (v1::Goodbye): marked left, on record as
  // "agent_deregistered".
  bool SubmitGoodbye(std::string agent_id, std::string reason, Done done);

  // Reports are written through `join` (null: straight to storage), which
  // stores their join records and labels in the same batch. Set before the
  // first report.
  void SetLabelJoin(LabelJoin* join) { join_ = join; }

  // Fleet mode: called on the writer thread with the reports of a batch
  // newly stored (not duplicates), after they are durable and before their
  // completions run, so a hook that copies them elsewhere does so before
  // they are acknowledged. Set before the first Submit.
  using StoredHook =
      std::function<void(const std::vector<const EncodedReport*>&)>;
  void OnStored(StoredHook hook) { on_stored_ = std::move(hook); }

  size_t depth() const;
  size_t capacity() const { return capacity_; }
  // Report bytes waiting (EncodedReport::bytes and label_bytes).
  size_t queued_bytes() const;

 private:
  struct Item {
    // Hellos and gaps are written one at a time; reports in batches.
    enum class Kind { kHello, kReport, kGap, kGoodbye };
    Kind kind = Kind::kReport;
    v1::Hello hello;
    std::function<bool(const std::string&)> connected;  // hellos
    std::string agent_id, reason;                       // goodbyes
    v1::GapNotice gap;
    EncodedReport report;
    Done done;
  };
  bool Submit(Item item);
  void Run();
  WriteResult WriteHello(const Item& item, absl::Time now);
  WriteResult WriteGoodbye(const Item& item, absl::Time now);

  Storage* const storage_;
  LabelJoin* join_ = nullptr;
  AuditTrail* const audit_;
  const Clock* const clock_;
  const size_t capacity_;
  const size_t max_batch_;
  const size_t max_queued_bytes_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  StoredHook on_stored_;
  std::thread thread_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_INGEST_DURABLE_WRITER_H_

// IntakeLog: what the agent answered "accepted" for but has not yet written
// to its spool, on disk, so that a killed agent loses none of it.
//
// Contract:
//  - Append() writes one record - an accepted batch of a window, as received
//    - to the segment of that window before the agent answers. It is a plain
//    write(2), not fsynced: a record survives a crash or SIGKILL of the
//    process (the kernel holds it), not a power loss or a kernel crash of
//    the node (docs/storage.md#agent).
//  - Checkpoint() bounds a busy window's segment: it writes the window so
//    far (summary, pending predictions, labels to forward) as one record at the
//    start of a new generation of the segment (`<dir>/<window start
//    ms>.<generation>.log`), then deletes the older generations. Read() starts
//    at the last whole checkpoint, so a crash at any point of a checkpoint
//    replays each event exactly once.
//  - Drop(start) deletes the segment of one window instance once it is in
//    the spool; Trim(end) those of all windows that start before `end`.
//  - Segments() and Read() give the records left after a crash, for replay
//    at start. A record cut short by the crash (its length or checksum does
//    not match) ends its generation: it was never answered.
//  - Bounded: Append() refuses (RESOURCE_EXHAUSTED naming
//    --intake_log_max_bytes) once the segments hold that many bytes; with
//    checkpoints they only grow while windows cannot be spooled.
//
// Record: [u32 length][u32 CRC-32 (zlib) of the rest][u8 kind][i64 arrival,
// Unix microseconds][payload], integers little-endian.
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_AGENT_INTAKE_LOG_H_
#define AIMS_AGENT_INTAKE_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace aims::agent {

struct IntakeRecord {
  enum class Kind : uint8_t {
    kJsonEvents = 1,   // an HTTP body of events, as received
    kProtoEvents = 2,  // a serialized v1::SubmitEventsRequest
    // Labels joined by the label store of an earlier agent, as a
    // serialized v1::SubmitEventsRequest; only replayed.
    kJoinedLabels = 3,
    // A serialized v1::WindowSummary of all before it, of an earlier agent;
    // only replayed.
    kCheckpoint = 4,
    // Delayed labels taken (to forward), as a serialized
    // v1::SubmitLabelsRequest with each label's timestamp set.
    kLabels = 5,
    // A serialized v1::WindowReport (summary, predictions, labels) of all
    // before it.
    kCheckpointReport = 6,
    // As kJsonEvents / kProtoEvents, of which only some events belong to
    // the segment's window: [u64 n][n u64 positions in the screened batch,
    // big-endian][the request as received].
    kJsonEventsRouted = 7,
    kProtoEventsRouted = 8,
  };
  Kind kind = Kind::kJsonEvents;
  absl::Time arrival;
  std::string payload;
};

class IntakeLog {
 public:
  // Opens (creating) `dir`; segments of an earlier run stay for replay.
  static absl::StatusOr<std::unique_ptr<IntakeLog>> Open(std::string dir,
                                                         uint64_t max_bytes);
  ~IntakeLog();

  // OK when a record of `payload_bytes` fits within the bound, else the
  // RESOURCE_EXHAUSTED Append() would give.
  absl::Status CheckRoom(size_t payload_bytes) const;
  absl::Status Append(absl::Time window_start, IntakeRecord::Kind kind,
                      absl::Time arrival, absl::string_view payload);
  // Starts a new generation of `window_start`'s segment with a checkpoint
  // record holding `report` (everything logged for the window so far) and
  // deletes the older generations. Not bounded by max_bytes (it shrinks
  // the log). On error the older generations stay and replay as before.
  absl::Status Checkpoint(absl::Time window_start, absl::Time now,
                          absl::string_view report);
  void Trim(absl::Time end);
  // Deletes the segment of `window_start` alone (an instance in the spool).
  void Drop(absl::Time window_start);

  // Window starts of the segments on disk, oldest first.
  std::vector<absl::Time> Segments() const;
  // The whole records of the segment of `window_start`, in order, from its
  // last checkpoint on.
  absl::StatusOr<std::vector<IntakeRecord>> Read(absl::Time window_start) const;

  uint64_t bytes() const;
  // Bytes in the segment of `window_start` (0 when it has none).
  uint64_t SegmentBytes(absl::Time window_start) const;
  uint64_t max_bytes() const { return max_bytes_; }

 private:
  IntakeLog(std::string dir, uint64_t max_bytes);
  std::string PathOf(absl::Time window_start, uint64_t generation) const;
  absl::Status RoomLocked(size_t record_bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const uint64_t max_bytes_;
  mutable absl::Mutex mu_;
  // The segment of a window: its generations' sizes (the last one is
  // appended to) and the open file of the last.
  struct Segment {
    std::map<uint64_t, uint64_t> generations;  // generation -> bytes
    int fd = -1;
    uint64_t bytes = 0;  // sum over generations
  };
  // Appends `record` to the last generation of `segment` (opened on first
  // use).
  absl::Status WriteLocked(absl::Time window_start, Segment& segment,
                           absl::string_view record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<absl::Time, Segment>::iterator DeleteLocked(
      std::map<absl::Time, Segment>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<absl::Time, Segment> segments_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_INTAKE_LOG_H_

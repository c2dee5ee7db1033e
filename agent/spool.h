// Spool: the agent's durable, bounded queue of closed window reports, in a
// RocksDB directory that survives restarts.
//
// Contract:
//  - Append() assigns the next sequence (1, 2, ... across restarts) and
//    returns only once the report and the new sequence are on disk (fsync).
//  - A report stays until AckThrough() covers its sequence or Remove()
//    drops it (the collector rejected it).
//  - Bounded: reports use at most `max_bytes`. When a new report would not
//    fit, the policy decides which windows go: kDropOldest (default) deletes
//    the oldest reports, kDropNewest refuses the new one. Dropped windows
//    are never silent: they become a gap record (aims.v1.GapNotice: sequence
//    range, time span, event count) that is delivered in sequence order like
//    a report, so the collector puts the gap on record.
//  - The agent's identity (a generated UUID unless configured) is kept here
//    so that sequences stay unique per agent id.
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_AGENT_SPOOL_H_
#define AIMS_AGENT_SPOOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/ingest.pb.h"
#include "aims/v1/profile.pb.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace aims::agent {

struct SpoolOptions {
  std::string dir = "./var/aims-agent";
  // Bytes of serialized reports the spool may hold (gap records are tiny
  // and not counted).
  uint64_t max_bytes = 64ull << 20;
  enum class FullPolicy { kDropOldest, kDropNewest };
  FullPolicy policy = FullPolicy::kDropOldest;
};

class Spool {
 public:
  struct AppendResult {
    uint64_t sequence = 0;
    // Windows dropped to make room (kDropOldest) or the new one itself
    // (kDropNewest).
    uint64_t dropped_windows = 0;
  };

  static absl::StatusOr<std::unique_ptr<Spool>> Open(
      const SpoolOptions& options);
  ~Spool();

  // The agent id stored in the spool; on first use `configured` (or a new
  // UUID when empty) is stored. A configured id that differs from the stored
  // one replaces it: sequences continue from the stored next sequence.
  absl::StatusOr<std::string> AgentId(const std::string& configured);

  // The reference profile in force, kept so that a restarted agent bins as
  // before it even without a collector. NOT_FOUND when none was saved.
  absl::Status SaveProfile(const v1::ReferenceProfile& profile);
  absl::StatusOr<v1::ReferenceProfile> LoadProfile() const;

  // Stores `report` with the next sequence (its agent_id must be set), and
  // with it (atomically) `segment`, the intake log segment it was built
  // from (last_segment()).
  absl::StatusOr<AppendResult> Append(
      v1::WindowReport report, absl::Time segment = absl::InfinitePast());
  // Up to `max` items (reports and gaps) whose first sequence is > `after`,
  // in sequence order, each ready to send.
  absl::StatusOr<std::vector<v1::IngestRequest>> ReadAfter(uint64_t after,
                                                           size_t max) const;
  // Deletes every item whose first sequence is <= `sequence`.
  absl::Status AckThrough(uint64_t sequence);
  // Deletes one item.
  absl::Status Remove(uint64_t sequence);

  size_t pending_reports() const;
  size_t pending_gaps() const;
  uint64_t pending_bytes() const;
  // Highest sequence ever assigned (0: none).
  uint64_t last_sequence() const;
  // End of the newest window appended (as a report or a gap), kept with it
  // atomically; InfinitePast when none.
  absl::Time last_window_end() const;
  // The intake log segment of the newest report appended with one
  // (InfinitePast: none): at start it may not have been dropped yet.
  absl::Time last_segment() const;
  // Windows dropped by this process since Open().
  uint64_t dropped_windows() const;
  uint64_t max_bytes() const { return options_.max_bytes; }

 private:
  explicit Spool(SpoolOptions options);
  absl::Status Load();
  // Deletes the oldest reports until `needed` more bytes fit, folding them
  // into a gap record written in `batch`-independent durable writes.
  absl::StatusOr<uint64_t> MakeRoomLocked(uint64_t needed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpoolOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_window_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_segment_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t pending_reports_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pending_gaps_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_windows_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_SPOOL_H_

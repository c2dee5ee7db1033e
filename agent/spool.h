// Spool: the agent's durable queue of closed window reports, in a RocksDB
// directory that survives restarts.
//
// Contract:
//  - Append() assigns the next sequence (1, 2, ... across restarts) and
//    returns only once the report and the new sequence are on disk.
//  - A report stays until AckThrough() covers its sequence or Remove()
//    drops it (the collector rejected it).
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

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace aims::agent {

class Spool {
 public:
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir);
  ~Spool();

  // The agent id stored in the spool; on first use `configured` (or a new
  // UUID when empty) is stored. A configured id that differs from the stored
  // one replaces it: sequences continue from the stored next sequence.
  absl::StatusOr<std::string> AgentId(const std::string& configured);

  // Stores `report` with the next sequence; returns that sequence.
  absl::StatusOr<uint64_t> Append(v1::WindowReport report);
  // Up to `max` reports with sequence > `after`, in order.
  absl::StatusOr<std::vector<v1::WindowReport>> ReadAfter(uint64_t after,
                                                          size_t max) const;
  // Deletes every report with sequence <= `sequence`.
  absl::Status AckThrough(uint64_t sequence);
  // Deletes one report.
  absl::Status Remove(uint64_t sequence);

  size_t pending_reports() const;
  uint64_t pending_bytes() const;
  // Highest sequence ever assigned (0: none).
  uint64_t last_sequence() const;

 private:
  Spool() = default;
  absl::Status Load();

  std::unique_ptr<rocksdb::DB> db_;
  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t first_pending_ ABSL_GUARDED_BY(mu_) = 1;
  size_t pending_reports_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_SPOOL_H_

// AuditTrail: the append-only, hash-chained record of what aims decided and
// who did what - plan versions, objective state changes, nonconformity
// transitions, agent connects and gaps (ISO/IEC 42001 A.6.2.8, 10.2).
//
// Record i carries hash_i = SHA-256(hash_{i-1} || canonical(record i)) with
// canonical(r) = index "\n" at (Unix microseconds) "\n" actor "\n" kind "\n"
// body, and hash_0 = 64 zeros. The body is canonical JSON (keys sorted, one
// string value each). Verify() recomputes the chain and names the first
// record that does not match, so an edit, deletion or insertion anywhere is
// detected.
//
// Commit() writes audit records together with other state changes in one
// atomic, durable Storage::Apply, so state and its record cannot diverge.
//
// Thread-safety: safe; appends are serialised by a mutex.
#ifndef AIMS_COLLECTOR_COMPLIANCE_AUDIT_TRAIL_H_
#define AIMS_COLLECTOR_COMPLIANCE_AUDIT_TRAIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"

namespace aims::collector {

// One record to append: who, what kind, and its fields.
struct AuditEntry {
  std::string kind;
  std::string actor;
  std::map<std::string, std::string> fields;
};

class AuditTrail {
 public:
  AuditTrail(Storage* storage, const Clock* clock);

  // Reads the last record so appends continue the chain.
  absl::Status Load();

  // Appends `entries` and applies `mutations` atomically.
  absl::Status Commit(std::vector<Mutation> mutations,
                      const std::vector<AuditEntry>& entries);
  absl::Status Append(const AuditEntry& entry) { return Commit({}, {entry}); }

  v1::VerifyAuditResponse Verify() const;
  std::vector<v1::AuditRecord> List(uint64_t from_index, uint32_t limit) const;
  uint64_t size() const;

  // Exposed for tests and documentation.
  static std::string RecordHash(const std::string& prev_hash,
                                const v1::AuditRecord& record);
  // The storage key of record `index`: the index big-endian, so that keys
  // sort by index (common/rocks/keys.h; the outbox's keys are the same).
  static std::string Key(uint64_t index);

 private:
  Storage* const storage_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  uint64_t last_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_AUDIT_TRAIL_H_

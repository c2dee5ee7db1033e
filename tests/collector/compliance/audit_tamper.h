// Test helper: edits an audit record in a collector's RocksDB directly, as
// an intruder with disk access would. The collector must be stopped.
#ifndef AIMS_TESTS_COLLECTOR_COMPLIANCE_AUDIT_TAMPER_H_
#define AIMS_TESTS_COLLECTOR_COMPLIANCE_AUDIT_TAMPER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace aims::collector {

// Rewrites record `index`'s actor in the data directory `path`.
absl::Status TamperWithAuditRecord(const std::string& path, uint64_t index,
                                   const std::string& actor);

}  // namespace aims::collector

#endif  // AIMS_TESTS_COLLECTOR_COMPLIANCE_AUDIT_TAMPER_H_

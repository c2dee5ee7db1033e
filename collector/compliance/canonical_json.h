// CanonicalJson: the byte-exact JSON form of a flat string map that the audit
// trail hashes (collector/compliance/audit_trail.h). Its bytes are part of
// every record's hash, so they must never change: keys in byte order (the
// map's), every value a string, no whitespace, and only '"', '\\', control
// characters (\n \r \t, others as \u00XX) escaped; other bytes are copied as
// they are.
//
// This is not aims' JSON output (common/base/proto_json.h): it exists for
// the hash chain, and for keys that must compare equal when their contents
// do (the notifier's deduplication of alerts by label set).
//
// Thread-safety: stateless functions.
#ifndef AIMS_COLLECTOR_COMPLIANCE_CANONICAL_JSON_H_
#define AIMS_COLLECTOR_COMPLIANCE_CANONICAL_JSON_H_

#include <map>
#include <string>

namespace aims::collector {

std::string CanonicalJson(const std::map<std::string, std::string>& fields);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_CANONICAL_JSON_H_

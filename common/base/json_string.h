// AppendJsonString: one string as a JSON string literal, for the few places
// that write JSON text not from a proto message (ProtoJson is the way for
// those, common/base/proto_json.h): the audit trail's canonical form
// (collector/compliance/canonical_json.h), whose hashes depend on these
// exact bytes, and aimsctl backfill's CSV rows turned into intake JSON.
//
// Escapes '"', '\\', '\n', '\r' and '\t' by name and the other control
// characters as \u00XX; every other byte is copied (UTF-8 passes through).
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_BASE_JSON_STRING_H_
#define AIMS_COMMON_BASE_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace aims {

void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_JSON_STRING_H_

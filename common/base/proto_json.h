// ProtoJson: the one way aims writes JSON. Every JSON answer, notification
// and `--json` output is a proto message printed by protobuf's JSON printer,
// so escaping, numbers and field names are right by construction and the
// wire API and the JSON API describe the same messages.
//
// Zero values are printed ("value": 0, "errors": []): proto3 JSON leaves them
// out by default, and a client could not tell "0" from "absent". Fields are
// named as in the .proto file (snake_case), except with kJsonNames, which
// uses each field's json_name (lowerCamelCase or an explicit
// [json_name = ...]) for formats defined by others, e.g. Alertmanager's.
//
// The audit trail's hash chain needs a canonical form instead
// (collector/compliance/canonical_json.h).
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_BASE_PROTO_JSON_H_
#define AIMS_COMMON_BASE_PROTO_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace aims {

enum class JsonFieldNames { kProtoNames, kJsonNames };

// `message` as one line of JSON, without a trailing newline. Strings must be
// valid UTF-8 (cut them with CutUtf8, common/base/utf8.h): protobuf drops
// invalid bytes and logs an error.
std::string ProtoToJson(const google::protobuf::Message& message,
                        JsonFieldNames names = JsonFieldNames::kProtoNames);

// {"error":"<message>"}: the body of every HTTP error answer
// (aims.v1.ErrorResponse).
std::string ErrorJson(absl::string_view message);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_PROTO_JSON_H_

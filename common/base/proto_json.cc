#include "common/base/proto_json.h"

#include "aims/v1/error.pb.h"
#include "common/base/utf8.h"
#include "google/protobuf/util/json_util.h"

namespace aims {

std::string ProtoToJson(const google::protobuf::Message& message,
                        JsonFieldNames names) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = names == JsonFieldNames::kProtoNames;
  std::string json;
  // Printing a valid message cannot fail (no Any of an unknown type is used).
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string ErrorJson(absl::string_view message) {
  v1::ErrorResponse error;
  error.set_error(std::string(CutUtf8(message, message.size())));
  return ProtoToJson(error);
}

}  // namespace aims

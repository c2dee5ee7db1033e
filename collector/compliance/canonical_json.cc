#include "collector/compliance/canonical_json.h"

#include "common/base/json_string.h"

namespace aims::collector {

std::string CanonicalJson(const std::map<std::string, std::string>& fields) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : fields) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(k, &out);
    out.push_back(':');
    AppendJsonString(v, &out);
  }
  out.push_back('}');
  return out;
}

}  // namespace aims::collector

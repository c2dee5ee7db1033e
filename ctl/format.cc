#include "ctl/format.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"

namespace aims::ctl {

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(t),
                          absl::UTCTimeZone());
}

std::string Number(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat("%.4g", v);
}

std::string ModelText(const v1::ModelRef& model) {
  return absl::StrCat(model.name(), "/", model.version(), "/",
                      model.environment());
}

}  // namespace aims::ctl

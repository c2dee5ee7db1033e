#include "common/base/limit_error.h"

#include <limits>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"

namespace aims {
namespace {

constexpr char kLimitPayload[] = "type.aims.dev/aims.limit";

}  // namespace

std::string LimitReason(absl::string_view found, absl::string_view limit,
                        absl::string_view flag) {
  if (flag.empty()) return absl::StrCat(found, ", limit ", limit);
  return absl::StrCat(found, ", limit ", limit, " (", flag, ")");
}

std::string LimitName(absl::string_view flag) {
  absl::ConsumePrefix(&flag, "--");
  absl::ConsumePrefix(&flag, "max_");
  return std::string(flag);
}

absl::Status LimitError(absl::string_view field, absl::string_view found,
                        absl::string_view limit, absl::string_view flag) {
  absl::Status status = absl::InvalidArgumentError(
      absl::StrCat(field, ": ", LimitReason(found, limit, flag)));
  status.SetPayload(kLimitPayload, absl::Cord(LimitName(flag)));
  return status;
}

std::string LimitOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kLimitPayload);
  return payload ? std::string(*payload) : std::string();
}

int TransportMessageCap(size_t limit_bytes) {
  constexpr size_t kMax = std::numeric_limits<int>::max();
  return static_cast<int>(limit_bytes >= kMax / 2 ? kMax : 2 * limit_bytes);
}

}  // namespace aims

// LimitError: the INVALID_ARGUMENT status of an input refused because it
// exceeds a configured limit. Its message names the field, the size found,
// the limit and the flag that sets it ("features: 1200 entries, limit 1000
// (--max_features_per_event)"); the limit's name travels as a status payload
// so that callers can count refusals by limit without parsing messages.
// A limit's name is its flag without the leading "--max_" (or "--"), e.g.
// "features_per_event"; it labels the aims_*_limit_rejections_total series.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_BASE_LIMIT_ERROR_H_
#define AIMS_COMMON_BASE_LIMIT_ERROR_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace aims {

// "<found>, limit <limit> (<flag>)", e.g. "1200 features, limit 1000
// (--max_features_per_event)"; without " (<flag>)" when `flag` is empty (a
// limit no flag sets).
std::string LimitReason(absl::string_view found, absl::string_view limit,
                        absl::string_view flag);

// The name of the limit `flag` sets: "--max_features_per_event" ->
// "features_per_event", "--label_store_max_entries" ->
// "label_store_max_entries".
std::string LimitName(absl::string_view flag);

// INVALID_ARGUMENT "<field>: <LimitReason(...)>" carrying LimitName(flag).
absl::Status LimitError(absl::string_view field, absl::string_view found,
                        absl::string_view limit, absl::string_view flag);

// The limit a status names (empty when it is not a LimitError).
std::string LimitOf(const absl::Status& status);

// The cap to give gRPC's transport (SetMaxReceiveMessageSize) for a message
// size limit that aims code enforces itself: twice the limit, at most
// INT_MAX. A message up to the cap reaches aims code, which refuses it when
// it is over `limit_bytes` with an error naming the flag and counts it;
// beyond the cap gRPC refuses it unread (RESOURCE_EXHAUSTED "Received
// message larger than max"), which bounds what one message can cost.
int TransportMessageCap(size_t limit_bytes);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_LIMIT_ERROR_H_

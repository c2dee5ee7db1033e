// Wire-format helpers that work on serialized protobuf messages without
// parsing them.
//
// CopyWithoutField copies a message leaving out one nested field. Used to
// drop the per-feature quantile sketches (most of a stored summary's bytes
// and of its parse time) from records read for metrics that do not use them.
//
// `path` names the field to drop by field numbers from the top message:
// {2, 4, 7} drops field 7 of every message in field 4 of every message in
// field 2. Each field on the path but the last must be a length-delimited
// (message) field; fields with the right number but another wire type are
// copied as they are. Unknown fields are kept.
//
// SplitFields separates a message's top-level fields by number into two
// messages, so that the ingest path takes a report's join records and
// labels out without parsing and copying them; ForEachLengthDelimited and
// AppendLengthDelimited let the label join store each record as received.
//
// SoleField finds a length-delimited field that is a message's only
// content, so the ingest path can store a report as the bytes it received
// instead of serializing the parsed copy again.
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_STORAGE_WIRE_FILTER_H_
#define AIMS_COLLECTOR_STORAGE_WIRE_FILTER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace aims::collector {

// Appends `message` without the field `path` names to `out`. False (and
// `out` partly written) when `message` is not valid wire format.
bool CopyWithoutField(absl::string_view message, absl::Span<const int> path,
                      std::string* out);

// Appends each top-level field of `message` whose number is in `fields` to
// `taken` and every other field to `kept`, as they are on the wire and in
// their order. False (both partly written) when `message` is not valid wire
// format.
bool SplitFields(absl::string_view message, absl::Span<const int> fields,
                 std::string* kept, std::string* taken);

// Calls `fn(number, payload)` for each length-delimited top-level field of
// `message`, in order (fields of other wire types are skipped). False when
// `message` is not valid wire format or `fn` returned false.
bool ForEachLengthDelimited(
    absl::string_view message,
    const std::function<bool(int number, absl::string_view payload)>& fn);

// Appends field `number` with `payload` as a length-delimited field (a
// message or string field's wire form) to `out`.
void AppendLengthDelimited(int number, absl::string_view payload,
                           std::string* out);

// The payload of top-level field `field` when `message` is exactly one
// length-delimited field with that number, else nullopt: a repeated or
// merged field, other or unknown fields beside it, another wire type or
// truncated input all give nullopt. The view points into `message`.
std::optional<absl::string_view> SoleField(absl::string_view message,
                                           int field);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_STORAGE_WIRE_FILTER_H_

// CopyWithoutField: copies a serialized protobuf message leaving out one
// nested field, working on the wire format without parsing the rest. Used
// to drop the per-feature quantile sketches (most of a stored summary's
// bytes and of its parse time) from records read for metrics that do not
// use them.
//
// `path` names the field to drop by field numbers from the top message:
// {2, 4, 7} drops field 7 of every message in field 4 of every message in
// field 2. Each field on the path but the last must be a length-delimited
// (message) field; fields with the right number but another wire type are
// copied as they are. Unknown fields are kept.
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_WIRE_FILTER_H_
#define AIMS_COLLECTOR_WIRE_FILTER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace aims::collector {

// Appends `message` without the field `path` names to `out`. False (and
// `out` partly written) when `message` is not valid wire format.
bool CopyWithoutField(absl::string_view message, absl::Span<const int> path,
                      std::string* out);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_WIRE_FILTER_H_

// Parses the agent's HTTP intake bodies: a JSON array of events, a single
// event object, or JSON lines (one event object per line). Each event is
// checked on its own: a malformed event yields an EventError with its index,
// field and reason while the valid events of the same batch are returned.
// Unknown fields are ignored and listed as warnings (forward compatibility:
// a newer client's field never costs an event). Where a number is expected,
// the strings "NaN", "Infinity" and "-Infinity" (proto3's JSON spelling) are
// read as that non-finite number. The field reference is docs/events.md.
//
// Thread-safety: safe from any thread. Up to two simdjson parsers, each
// sized for a body of at most 1 MiB, are kept between calls and shared.
#ifndef AIMS_COMMON_INTAKE_EVENT_JSON_H_
#define AIMS_COMMON_INTAKE_EVENT_JSON_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/summary/event.h"

namespace aims {

struct JsonIntakeLimits {
  EventLimits event;
  // Events (valid or not) in one body, and the flag that sets it (named by
  // the LimitError; the collector's label service has its own).
  size_t max_events_per_batch = 10000;
  absl::string_view max_batch_flag = "--max_events_per_batch";
};

// Fails only when the body as a whole cannot be read (empty, not JSON, an
// array with a syntax error - the message names the byte offset, line and
// column - or more than max_events_per_batch items, a LimitError);
// per-event problems go to `errors`. A broken line of a JSON lines body is
// that line's error (with its offset) and the other lines still count.
absl::Status ParseEventBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, EventBatch* out);

// The same for POST /v1/labels: items {"prediction_id", "label",
// optional "timestamp"}.
absl::Status ParseLabelBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, LabelBatch* out);

}  // namespace aims

#endif  // AIMS_COMMON_INTAKE_EVENT_JSON_H_

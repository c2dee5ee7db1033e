// Parses the agent's HTTP intake bodies: a JSON array of events, a single
// event object, or JSON lines (one event object per line). Each event is
// checked on its own: a malformed event yields an EventError with its index,
// field and reason while the valid events of the same batch are returned.
// The field reference is docs/events.md.
//
// Thread-safety: stateless; safe from any thread.
#ifndef AIMS_COMMON_EVENT_JSON_H_
#define AIMS_COMMON_EVENT_JSON_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/event.h"

namespace aims {

struct EventBatch {
  std::vector<Event> events;
  std::vector<EventError> errors;
};

struct LabelBatch {
  std::vector<LabelEvent> labels;
  std::vector<EventError> errors;
};

struct JsonIntakeLimits {
  EventLimits event;
  // Events (valid or not) in one body.
  size_t max_events_per_batch = 10000;
};

// Fails only when the body as a whole cannot be read (not JSON, an array
// with a syntax error, too many events); per-event problems go to `errors`.
absl::Status ParseEventBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, EventBatch* out);

// The same for POST /v1/labels: items {"prediction_id", "label",
// optional "timestamp"}.
absl::Status ParseLabelBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, LabelBatch* out);

}  // namespace aims

#endif  // AIMS_COMMON_EVENT_JSON_H_

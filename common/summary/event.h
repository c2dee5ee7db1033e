// Event: one inference as the agent folds it into a window, in a native form
// that both intakes (HTTP/JSON and gRPC) produce. Also the limits every
// intake enforces on events, and the conversion from the wire form.
//
// Thread-safety: plain values.
#ifndef AIMS_COMMON_SUMMARY_EVENT_H_
#define AIMS_COMMON_SUMMARY_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/event.pb.h"

namespace aims {

// Name of the pseudo-feature that summarises the model's predictions.
inline constexpr absl::string_view kPredictionFeature = "__prediction__";

// A feature value: number, category or missing.
struct FeatureValue {
  enum class Kind { kMissing, kNumber, kCategory };
  Kind kind = Kind::kMissing;
  double number = 0;
  std::string category;
};

// A prediction or label: absent, a class, or a number. A number used where a
// class is expected names the class by its integer text ("1").
struct Outcome {
  enum class Kind { kNone, kClass, kNumber };
  Kind kind = Kind::kNone;
  std::string class_label;
  double number = 0;

  bool present() const { return kind != Kind::kNone; }
  // The class this outcome names (integers print without a decimal point).
  std::string AsClass() const;
};

struct Event {
  std::string prediction_id;
  // InfinitePast: not given (the agent uses the arrival time).
  absl::Time timestamp = absl::InfinitePast();
  std::vector<std::pair<std::string, FeatureValue>> features;
  Outcome prediction;
  std::optional<double> score;
  std::vector<std::pair<std::string, double>> probabilities;
  Outcome label;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::optional<double> latency_seconds;
  bool error = false;
};

// A ground-truth label that arrives after its prediction (POST /v1/labels).
struct LabelEvent {
  std::string prediction_id;
  Outcome label;
  // InfinitePast: not given (the agent uses the arrival time).
  absl::Time timestamp = absl::InfinitePast();
};

// Limits on one event; each is checked with an error naming the field, the
// limit and the agent flag that sets it (common/base/limit_error.h).
struct EventLimits {
  // Whose limits these are: the agent's are its flags, named by each error;
  // the collector's label intake uses the defaults, fixed, so its errors
  // name no flag (the limit's name still counts them) and its clock is "the
  // collector's".
  enum class Owner { kAgent, kCollector };
  Owner owner = Owner::kAgent;

  size_t max_features = 1000;            // --max_features_per_event
  size_t max_attributes = 32;            // --max_attributes_per_event
  size_t max_probabilities = 1000;       // --max_probabilities_per_event
  size_t max_name_bytes = 128;           // --max_name_bytes
  size_t max_string_bytes = 1024;        // --max_string_bytes
  size_t max_prediction_id_bytes = 128;  // --max_prediction_id_bytes
  // Accepted timestamps: [now - max_event_age, now + max_clock_skew] of the
  // agent's clock (ScreenEvents, ScreenLabels).
  absl::Duration max_clock_skew = absl::Minutes(5);  // --max_clock_skew
  absl::Duration max_event_age = absl::Hours(24);    // --max_event_age
};

// Why one item (event or label) of a batch was refused, or, as a warning,
// what was ignored in an item (an unknown field).
struct EventError {
  size_t index = 0;  // position in the request
  std::string field;
  std::string reason;
  // The limit exceeded (common/base/limit_error.h), e.g. "features_per_event";
  // empty for other errors.
  std::string limit;
  // The item repeats a prediction_id already received.
  bool duplicate = false;
};

// Valid items of a request, with the position each had in it, and the
// refused ones. Warnings: unknown fields ignored (at most kMaxWarnings are
// listed; `unknown_fields` counts them all).
inline constexpr size_t kMaxWarnings = 100;

struct EventBatch {
  std::vector<Event> events;
  std::vector<size_t> indices;  // indices[i]: position of events[i]
  std::vector<EventError> errors;
  std::vector<EventError> warnings;
  size_t unknown_fields = 0;
};

struct LabelBatch {
  std::vector<LabelEvent> labels;
  std::vector<size_t> indices;
  std::vector<EventError> errors;
  std::vector<EventError> warnings;
  size_t unknown_fields = 0;
};

// Converts and validates a wire event. On failure fills `error` (index left
// to the caller) and returns false.
bool EventFromProto(const v1::InferenceEvent& in, const EventLimits& limits,
                    Event* out, EventError* error);

// Converts and validates a wire label (prediction_id and label required,
// label finite).
bool LabelFromProto(const v1::LabelEvent& in, const EventLimits& limits,
                    LabelEvent* out, EventError* error);

// An outcome as a wire Outcome and back (kNone: no value set), unchecked:
// for records the agent and collector wrote themselves.
Outcome OutcomeFromProto(const v1::Outcome& in);
void OutcomeToProto(const Outcome& in, v1::Outcome* out);
// A label as forwarded on the wire: its timestamp, when not given, is `now`.
v1::LabelEvent LabelToProto(const LabelEvent& label, absl::Time now);

// Checks values that both intakes share (ranges, lengths, counts).
bool ValidateEvent(const Event& event, const EventLimits& limits,
                   EventError* error);
bool ValidateLabel(const LabelEvent& label, const EventLimits& limits,
                   EventError* error);

// What both intakes check once a request is parsed, against the agent's
// clock `now`: a timestamp more than max_clock_skew ahead refuses its item
// (limit "clock_skew"), and so does an event timestamp more than
// max_event_age old ("event_age"; a label's age is left to the label
// store's TTL); a prediction_id that an earlier item of the same request
// carries refuses the later one (duplicate). Refused items move to
// `errors`, which end sorted by index.
void ScreenEvents(EventBatch* batch, absl::Time now, const EventLimits& limits);
void ScreenLabels(LabelBatch* batch, absl::Time now, const EventLimits& limits);

// Moves batch->events[position] to errors for each (position, error) given
// (the error's index is set from batch->indices); errors end sorted by index.
void RejectEvents(EventBatch* batch,
                  std::vector<std::pair<size_t, EventError>> rejected);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_EVENT_H_

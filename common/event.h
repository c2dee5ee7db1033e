// Event: one inference as the agent folds it into a window, in a native form
// that both intakes (HTTP/JSON and gRPC) produce. Also the limits every
// intake enforces on events, and the conversion from the wire form.
//
// Thread-safety: plain values.
#ifndef AIMS_COMMON_EVENT_H_
#define AIMS_COMMON_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "aims/v1/event.pb.h"

namespace aims {

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

// Limits on one event; each is checked with an error naming it.
struct EventLimits {
  size_t max_features = 1000;
  size_t max_attributes = 32;
  size_t max_probabilities = 1000;
  size_t max_name_bytes = 128;
  size_t max_string_bytes = 1024;
  size_t max_prediction_id_bytes = 128;
};

// Why one event of a batch was rejected.
struct EventError {
  size_t index = 0;
  std::string field;
  std::string reason;
};

// Converts and validates a wire event. On failure fills `error` (index left
// to the caller) and returns false.
bool EventFromProto(const v1::InferenceEvent& in, const EventLimits& limits,
                    Event* out, EventError* error);

// Checks values that both intakes share (ranges, lengths, counts).
bool ValidateEvent(const Event& event, const EventLimits& limits,
                   EventError* error);

}  // namespace aims

#endif  // AIMS_COMMON_EVENT_H_

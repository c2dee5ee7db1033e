#include "common/event.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aims {
namespace {

bool Fail(EventError* error, std::string field, std::string reason) {
  error->field = std::move(field);
  error->reason = std::move(reason);
  return false;
}

bool CheckName(absl::string_view what, const std::string& name,
               const EventLimits& limits, EventError* error) {
  if (name.empty()) return Fail(error, std::string(what), "empty name");
  if (name.size() > limits.max_name_bytes) {
    return Fail(error, absl::StrCat(what, ".", name.substr(0, 32)),
                absl::StrCat("name is ", name.size(), " bytes, limit ",
                             limits.max_name_bytes));
  }
  return true;
}

bool OutcomeFromProto(const v1::Outcome& in, Outcome* out) {
  switch (in.value_case()) {
    case v1::Outcome::kClassLabel:
      out->kind = Outcome::Kind::kClass;
      out->class_label = in.class_label();
      return true;
    case v1::Outcome::kNumber:
      out->kind = Outcome::Kind::kNumber;
      out->number = in.number();
      return true;
    case v1::Outcome::VALUE_NOT_SET:
      out->kind = Outcome::Kind::kNone;
      return true;
  }
  return true;
}

}  // namespace

std::string Outcome::AsClass() const {
  if (kind == Kind::kClass) return class_label;
  if (kind == Kind::kNumber) {
    if (std::floor(number) == number && std::fabs(number) < 1e15) {
      return absl::StrCat(static_cast<int64_t>(number));
    }
    return absl::StrFormat("%g", number);
  }
  return "";
}

bool ValidateEvent(const Event& event, const EventLimits& limits,
                   EventError* error) {
  if (event.prediction_id.size() > limits.max_prediction_id_bytes) {
    return Fail(error, "prediction_id",
                absl::StrCat("is ", event.prediction_id.size(),
                             " bytes, limit ", limits.max_prediction_id_bytes));
  }
  if (event.features.size() > limits.max_features) {
    return Fail(error, "features",
                absl::StrCat(event.features.size(), " features, limit ",
                             limits.max_features));
  }
  for (const auto& [name, value] : event.features) {
    if (!CheckName("features", name, limits, error)) return false;
    if (value.kind == FeatureValue::Kind::kCategory &&
        value.category.size() > limits.max_string_bytes) {
      return Fail(error, absl::StrCat("features.", name),
                  absl::StrCat("string is ", value.category.size(),
                               " bytes, limit ", limits.max_string_bytes));
    }
  }
  if (event.attributes.size() > limits.max_attributes) {
    return Fail(error, "attributes",
                absl::StrCat(event.attributes.size(), " attributes, limit ",
                             limits.max_attributes));
  }
  for (const auto& [name, group] : event.attributes) {
    if (!CheckName("attributes", name, limits, error)) return false;
    if (group.size() > limits.max_string_bytes) {
      return Fail(error, absl::StrCat("attributes.", name),
                  absl::StrCat("value is ", group.size(), " bytes, limit ",
                               limits.max_string_bytes));
    }
  }
  if (event.probabilities.size() > limits.max_probabilities) {
    return Fail(error, "probabilities",
                absl::StrCat(event.probabilities.size(), " classes, limit ",
                             limits.max_probabilities));
  }
  for (const auto& [name, p] : event.probabilities) {
    if (!CheckName("probabilities", name, limits, error)) return false;
    if (!(p >= 0 && p <= 1)) {
      return Fail(error, absl::StrCat("probabilities.", name),
                  absl::StrCat("must be a probability in [0, 1], got ", p));
    }
  }
  if (event.score && !(*event.score >= 0 && *event.score <= 1)) {
    return Fail(
        error, "score",
        absl::StrCat("must be a probability in [0, 1], got ", *event.score));
  }
  if (event.latency_seconds &&
      !(*event.latency_seconds >= 0 && std::isfinite(*event.latency_seconds))) {
    return Fail(
        error, "latency",
        absl::StrCat("must be finite and >= 0, got ", *event.latency_seconds));
  }
  for (const Outcome* o : {&event.prediction, &event.label}) {
    const char* field = o == &event.prediction ? "prediction" : "label";
    if (o->kind == Outcome::Kind::kNumber && !std::isfinite(o->number)) {
      return Fail(error, field, "must be finite");
    }
    if (o->kind == Outcome::Kind::kClass) {
      if (o->class_label.empty()) return Fail(error, field, "empty class");
      if (o->class_label.size() > limits.max_name_bytes) {
        return Fail(error, field,
                    absl::StrCat("class is ", o->class_label.size(),
                                 " bytes, limit ", limits.max_name_bytes));
      }
    }
  }
  return true;
}

bool EventFromProto(const v1::InferenceEvent& in, const EventLimits& limits,
                    Event* out, EventError* error) {
  *out = Event();
  out->prediction_id = in.prediction_id();
  if (in.has_timestamp()) {
    out->timestamp = absl::FromUnixSeconds(in.timestamp().seconds()) +
                     absl::Nanoseconds(in.timestamp().nanos());
  }
  if (static_cast<size_t>(in.features_size()) > limits.max_features) {
    return Fail(error, "features",
                absl::StrCat(in.features_size(), " features, limit ",
                             limits.max_features));
  }
  out->features.reserve(in.features_size());
  for (const auto& [name, value] : in.features()) {
    FeatureValue v;
    switch (value.value_case()) {
      case v1::FeatureValue::kNumber:
        v.kind = FeatureValue::Kind::kNumber;
        v.number = value.number();
        break;
      case v1::FeatureValue::kCategory:
        v.kind = FeatureValue::Kind::kCategory;
        v.category = value.category();
        break;
      default:
        v.kind = FeatureValue::Kind::kMissing;
    }
    out->features.emplace_back(name, std::move(v));
  }
  OutcomeFromProto(in.prediction(), &out->prediction);
  OutcomeFromProto(in.label(), &out->label);
  if (in.has_score()) out->score = in.score();
  for (const auto& [name, p] : in.probabilities()) {
    out->probabilities.emplace_back(name, p);
  }
  for (const auto& [name, group] : in.attributes()) {
    out->attributes.emplace_back(name, group);
  }
  if (in.has_latency_seconds()) out->latency_seconds = in.latency_seconds();
  out->error = in.error();
  return ValidateEvent(*out, limits, error);
}

}  // namespace aims

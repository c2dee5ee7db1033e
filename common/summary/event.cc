#include "common/summary/event.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/limit_error.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"

namespace aims {
namespace {

constexpr char kMaxFeatures[] = "--max_features_per_event";
constexpr char kMaxAttributes[] = "--max_attributes_per_event";
constexpr char kMaxProbabilities[] = "--max_probabilities_per_event";
constexpr char kMaxNameBytes[] = "--max_name_bytes";
constexpr char kMaxStringBytes[] = "--max_string_bytes";
constexpr char kMaxPredictionIdBytes[] = "--max_prediction_id_bytes";
constexpr char kMaxClockSkew[] = "--max_clock_skew";
constexpr char kMaxEventAge[] = "--max_event_age";

bool Fail(EventError* error, std::string field, std::string reason) {
  error->field = std::move(field);
  error->reason = std::move(reason);
  return false;
}

// The flag to name for a limit of `limits` (none for the collector's).
absl::string_view FlagOf(const EventLimits& limits, absl::string_view flag) {
  return limits.owner == EventLimits::Owner::kAgent ? flag
                                                    : absl::string_view();
}

const char* ClockOf(const EventLimits& limits) {
  return limits.owner == EventLimits::Owner::kAgent ? "agent's" : "collector's";
}

bool FailLimit(EventError* error, std::string field, absl::string_view found,
               size_t limit, absl::string_view flag,
               const EventLimits& limits) {
  error->field = std::move(field);
  error->reason = LimitReason(found, absl::StrCat(limit), FlagOf(limits, flag));
  error->limit = LimitName(flag);
  return false;
}

bool CheckName(absl::string_view what, const std::string& name,
               const EventLimits& limits, EventError* error) {
  if (name.empty()) return Fail(error, std::string(what), "empty name");
  if (name.size() > limits.max_name_bytes) {
    return FailLimit(error, absl::StrCat(what, ".", CutUtf8(name, 32)),
                     absl::StrCat("name is ", name.size(), " bytes"),
                     limits.max_name_bytes, kMaxNameBytes, limits);
  }
  return true;
}

bool CheckPredictionId(const std::string& id, const EventLimits& limits,
                       EventError* error) {
  if (id.size() > limits.max_prediction_id_bytes) {
    return FailLimit(error, "prediction_id", absl::StrCat(id.size(), " bytes"),
                     limits.max_prediction_id_bytes, kMaxPredictionIdBytes,
                     limits);
  }
  return true;
}

bool CheckOutcome(const char* field, const Outcome& o,
                  const EventLimits& limits, EventError* error) {
  if (o.kind == Outcome::Kind::kNumber && !std::isfinite(o.number)) {
    return Fail(error, field, absl::StrCat("must be finite, got ", o.number));
  }
  if (o.kind == Outcome::Kind::kClass) {
    if (o.class_label.empty()) return Fail(error, field, "empty class");
    if (o.class_label.size() > limits.max_name_bytes) {
      return FailLimit(
          error, field,
          absl::StrCat("class is ", o.class_label.size(), " bytes"),
          limits.max_name_bytes, kMaxNameBytes, limits);
    }
  }
  return true;
}

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Checks `at` against the window of accepted timestamps around `now`
// (without a lower end unless `check_age`).
bool CheckTimestamp(absl::Time at, absl::Time now, const EventLimits& limits,
                    bool check_age, EventError* error) {
  if (at == absl::InfinitePast()) return true;  // not given
  const char* flag = nullptr;
  std::string found;
  absl::Duration limit;
  if (at > now + limits.max_clock_skew) {
    flag = kMaxClockSkew;
    limit = limits.max_clock_skew;
    found = absl::StrCat(TimeText(at), " is ", absl::FormatDuration(at - now),
                         " ahead of the ", ClockOf(limits), " clock");
  } else if (check_age && at < now - limits.max_event_age) {
    flag = kMaxEventAge;
    limit = limits.max_event_age;
    found = absl::StrCat(TimeText(at), " is ", absl::FormatDuration(now - at),
                         " old by the ", ClockOf(limits), " clock");
  } else {
    return true;
  }
  error->field = "timestamp";
  error->reason =
      LimitReason(found, absl::FormatDuration(limit), FlagOf(limits, flag));
  error->limit = LimitName(flag);
  return false;
}

// Refuses later items whose prediction_id an earlier item of the same
// request carries; `id_of(i)` is item i's id ("" for none).
template <typename IdOf>
std::vector<std::pair<size_t, EventError>> DuplicateIds(
    size_t n, const std::vector<size_t>& indices, const char* item,
    IdOf id_of) {
  std::vector<std::pair<size_t, EventError>> out;
  absl::flat_hash_map<absl::string_view, size_t> first;
  for (size_t i = 0; i < n; ++i) {
    const std::string& id = id_of(i);
    if (id.empty()) continue;
    auto [it, inserted] = first.emplace(id, indices[i]);
    if (inserted) continue;
    EventError e;
    e.field = "prediction_id";
    e.reason =
        absl::StrCat("'", CutUtf8(id, 64), "' repeats the ", item, " at index ",
                     it->second, " of this request; counted once");
    e.duplicate = true;
    out.emplace_back(i, std::move(e));
  }
  return out;
}

template <typename Item>
void Reject(std::vector<Item>* items, std::vector<size_t>* indices,
            std::vector<EventError>* errors,
            std::vector<std::pair<size_t, EventError>> rejected) {
  if (!rejected.empty()) {
    std::vector<bool> gone(items->size(), false);
    for (auto& [position, error] : rejected) {
      if (position >= items->size() || gone[position]) continue;
      gone[position] = true;
      error.index = (*indices)[position];
      errors->push_back(std::move(error));
    }
    size_t kept = 0;
    for (size_t i = 0; i < items->size(); ++i) {
      if (gone[i]) continue;
      if (kept != i) {
        (*items)[kept] = std::move((*items)[i]);
        (*indices)[kept] = (*indices)[i];
      }
      ++kept;
    }
    items->resize(kept);
    indices->resize(kept);
  }
  std::stable_sort(errors->begin(), errors->end(),
                   [](const EventError& a, const EventError& b) {
                     return a.index < b.index;
                   });
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
  if (!CheckPredictionId(event.prediction_id, limits, error)) return false;
  if (event.features.size() > limits.max_features) {
    return FailLimit(error, "features",
                     absl::StrCat(event.features.size(), " features"),
                     limits.max_features, kMaxFeatures, limits);
  }
  for (const auto& [name, value] : event.features) {
    if (!CheckName("features", name, limits, error)) return false;
    if (value.kind == FeatureValue::Kind::kCategory &&
        value.category.size() > limits.max_string_bytes) {
      return FailLimit(
          error, absl::StrCat("features.", name),
          absl::StrCat("string is ", value.category.size(), " bytes"),
          limits.max_string_bytes, kMaxStringBytes, limits);
    }
  }
  if (event.attributes.size() > limits.max_attributes) {
    return FailLimit(error, "attributes",
                     absl::StrCat(event.attributes.size(), " attributes"),
                     limits.max_attributes, kMaxAttributes, limits);
  }
  for (const auto& [name, group] : event.attributes) {
    if (!CheckName("attributes", name, limits, error)) return false;
    if (group.size() > limits.max_string_bytes) {
      return FailLimit(error, absl::StrCat("attributes.", name),
                       absl::StrCat("value is ", group.size(), " bytes"),
                       limits.max_string_bytes, kMaxStringBytes, limits);
    }
  }
  if (event.probabilities.size() > limits.max_probabilities) {
    return FailLimit(error, "probabilities",
                     absl::StrCat(event.probabilities.size(), " classes"),
                     limits.max_probabilities, kMaxProbabilities, limits);
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
  return CheckOutcome("prediction", event.prediction, limits, error) &&
         CheckOutcome("label", event.label, limits, error);
}

bool ValidateLabel(const LabelEvent& label, const EventLimits& limits,
                   EventError* error) {
  if (label.prediction_id.empty()) {
    return Fail(error, "prediction_id", "required");
  }
  if (!CheckPredictionId(label.prediction_id, limits, error)) return false;
  if (!label.label.present()) return Fail(error, "label", "required");
  return CheckOutcome("label", label.label, limits, error);
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
    return FailLimit(error, "features",
                     absl::StrCat(in.features_size(), " features"),
                     limits.max_features, kMaxFeatures, limits);
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
  out->prediction = OutcomeFromProto(in.prediction());
  out->label = OutcomeFromProto(in.label());
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

bool LabelFromProto(const v1::LabelEvent& in, const EventLimits& limits,
                    LabelEvent* out, EventError* error) {
  *out = LabelEvent();
  out->prediction_id = in.prediction_id();
  out->label = OutcomeFromProto(in.label());
  if (in.has_timestamp()) {
    out->timestamp = absl::FromUnixSeconds(in.timestamp().seconds()) +
                     absl::Nanoseconds(in.timestamp().nanos());
  }
  return ValidateLabel(*out, limits, error);
}

void ScreenEvents(EventBatch* batch, absl::Time now,
                  const EventLimits& limits) {
  std::vector<std::pair<size_t, EventError>> rejected;
  for (size_t i = 0; i < batch->events.size(); ++i) {
    EventError e;
    if (!CheckTimestamp(batch->events[i].timestamp, now, limits,
                        /*check_age=*/true, &e)) {
      rejected.emplace_back(i, std::move(e));
    }
  }
  Reject(&batch->events, &batch->indices, &batch->errors, std::move(rejected));
  Reject(&batch->events, &batch->indices, &batch->errors,
         DuplicateIds(batch->events.size(), batch->indices, "event",
                      [&](size_t i) -> const std::string& {
                        return batch->events[i].prediction_id;
                      }));
}

void ScreenLabels(LabelBatch* batch, absl::Time now,
                  const EventLimits& limits) {
  std::vector<std::pair<size_t, EventError>> rejected;
  for (size_t i = 0; i < batch->labels.size(); ++i) {
    EventError e;
    if (!CheckTimestamp(batch->labels[i].timestamp, now, limits,
                        /*check_age=*/false, &e)) {
      rejected.emplace_back(i, std::move(e));
    }
  }
  Reject(&batch->labels, &batch->indices, &batch->errors, std::move(rejected));
  Reject(&batch->labels, &batch->indices, &batch->errors,
         DuplicateIds(batch->labels.size(), batch->indices, "label",
                      [&](size_t i) -> const std::string& {
                        return batch->labels[i].prediction_id;
                      }));
}

void RejectEvents(EventBatch* batch,
                  std::vector<std::pair<size_t, EventError>> rejected) {
  Reject(&batch->events, &batch->indices, &batch->errors, std::move(rejected));
}

Outcome OutcomeFromProto(const v1::Outcome& in) {
  Outcome out;
  switch (in.value_case()) {
    case v1::Outcome::kClassLabel:
      out.kind = Outcome::Kind::kClass;
      out.class_label = in.class_label();
      break;
    case v1::Outcome::kNumber:
      out.kind = Outcome::Kind::kNumber;
      out.number = in.number();
      break;
    case v1::Outcome::VALUE_NOT_SET:
      out.kind = Outcome::Kind::kNone;
      break;
  }
  return out;
}

void OutcomeToProto(const Outcome& in, v1::Outcome* out) {
  if (in.kind == Outcome::Kind::kClass) out->set_class_label(in.class_label);
  if (in.kind == Outcome::Kind::kNumber) out->set_number(in.number);
}

v1::LabelEvent LabelToProto(const LabelEvent& label, absl::Time now) {
  v1::LabelEvent out;
  out.set_prediction_id(label.prediction_id);
  OutcomeToProto(label.label, out.mutable_label());
  *out.mutable_timestamp() =
      ToProto(label.timestamp == absl::InfinitePast() ? now : label.timestamp);
  return out;
}

}  // namespace aims

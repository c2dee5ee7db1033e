#include "common/intake/proto_intake.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
#include "google/protobuf/unknown_field_set.h"

namespace aims {

absl::Status CheckBatchSize(absl::string_view what, size_t items,
                            size_t max_items, absl::string_view flag) {
  if (items == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": an empty batch; send at least one item"));
  }
  if (items > max_items) {
    return LimitError(what, absl::StrCat(items, " items"),
                      absl::StrCat(max_items), flag);
  }
  return absl::OkStatus();
}

void NoteUnknownFields(const google::protobuf::Message& item, size_t index,
                       std::vector<EventError>* warnings, size_t* count) {
  const google::protobuf::UnknownFieldSet& unknown =
      item.GetReflection()->GetUnknownFields(item);
  for (int k = 0; k < unknown.field_count(); ++k) {
    ++*count;
    if (warnings->size() >= kMaxWarnings) continue;
    EventError w;
    w.index = index;
    w.field = absl::StrCat("#", unknown.field(k).number());
    w.reason = "unknown field number, ignored (see docs/events.md)";
    warnings->push_back(std::move(w));
  }
}

LabelBatch LabelBatchFromProto(
    const google::protobuf::RepeatedPtrField<v1::LabelEvent>& labels,
    const EventLimits& limits) {
  LabelBatch batch;
  batch.labels.reserve(labels.size());
  for (int i = 0; i < labels.size(); ++i) {
    LabelEvent label;
    EventError error;
    if (LabelFromProto(labels.Get(i), limits, &label, &error)) {
      batch.labels.push_back(std::move(label));
      batch.indices.push_back(static_cast<size_t>(i));
    } else {
      error.index = static_cast<size_t>(i);
      batch.errors.push_back(std::move(error));
    }
    NoteUnknownFields(labels.Get(i), static_cast<size_t>(i), &batch.warnings,
                      &batch.unknown_fields);
  }
  return batch;
}

void FillSubmitResponse(size_t accepted, const std::vector<EventError>& errors,
                        const std::vector<EventError>& warnings,
                        v1::SubmitResponse* response) {
  response->set_accepted(static_cast<uint32_t>(accepted));
  response->set_rejected(static_cast<uint32_t>(errors.size()));
  const auto add = [](const std::vector<EventError>& items,
                      google::protobuf::RepeatedPtrField<v1::ItemError>* out) {
    for (size_t i = 0; i < items.size() && i < kMaxWarnings; ++i) {
      v1::ItemError* item = out->Add();
      item->set_index(static_cast<uint32_t>(items[i].index));
      item->set_field(items[i].field);
      item->set_reason(items[i].reason);
    }
  };
  add(errors, response->mutable_errors());
  add(warnings, response->mutable_warnings());
}

}  // namespace aims

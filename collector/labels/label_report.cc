#include "collector/labels/label_report.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/container/btree_set.h"
#include "common/base/time_util.h"
#include "common/summary/event.h"
#include "common/summary/window_accumulator.h"

namespace aims::collector {
namespace {

// The task without a profile (see the header).
v1::TaskType InferTask(const std::vector<const v1::JoinRecord*>& records) {
  bool binary = true;
  for (const v1::JoinRecord* r : records) {
    for (const v1::Outcome* o :
         {&r->prediction().prediction(), &r->label().label()}) {
      if (o->value_case() == v1::Outcome::kNumber &&
          o->number() != std::floor(o->number())) {
        return v1::TASK_TYPE_REGRESSION;
      }
      const std::string c = OutcomeFromProto(*o).AsClass();
      if (o->value_case() != v1::Outcome::VALUE_NOT_SET && c != "0" &&
          c != "1") {
        binary = false;
      }
    }
  }
  return binary ? v1::TASK_TYPE_BINARY : v1::TASK_TYPE_MULTICLASS;
}

}  // namespace

absl::Time LabelTime(const v1::JoinRecord& record) {
  return record.label().has_timestamp() ? FromProto(record.label().timestamp())
                                        : FromProto(record.labelled_at());
}

bool SameOutcome(const v1::Outcome& a, const v1::Outcome& b) {
  if (a.value_case() != b.value_case()) return false;
  if (a.value_case() == v1::Outcome::kClassLabel) {
    return a.class_label() == b.class_label();
  }
  return a.value_case() != v1::Outcome::kNumber || a.number() == b.number();
}

v1::WindowSummary FoldLabelReport(
    const std::vector<const v1::JoinRecord*>& labelled,
    const std::vector<const v1::JoinRecord*>& all,
    std::shared_ptr<const v1::ReferenceProfile> profile, uint64_t evicted) {
  auto config = std::make_shared<SummaryConfig>();
  if (profile != nullptr && profile->task() != v1::TASK_TYPE_UNSPECIFIED) {
    config->task = profile->task();
    if (!profile->positive_class().empty()) {
      config->positive_class = profile->positive_class();
    }
    config->profile = profile;
  } else {
    config->task = InferTask(all);
  }
  // Slice values were bounded by the agent already: keep them all.
  absl::btree_set<std::string> slice_keys;
  for (const v1::JoinRecord* r : labelled) {
    for (const auto& [key, value] : r->prediction().slices()) {
      slice_keys.insert(key);
    }
  }
  config->slice_keys.assign(slice_keys.begin(), slice_keys.end());
  config->max_slice_values = 1000;
  WindowAccumulator acc(config);
  for (const v1::JoinRecord* r : labelled) {
    const v1::PendingPrediction& p = r->prediction();
    Event e;
    e.prediction_id = p.prediction_id();
    e.timestamp = FromProto(p.predicted_at());
    e.prediction = OutcomeFromProto(p.prediction());
    if (p.has_score()) e.score = p.score();
    for (const auto& [cls, prob] : p.probabilities()) {
      e.probabilities.emplace_back(cls, prob);
    }
    std::sort(e.probabilities.begin(), e.probabilities.end());
    e.label = OutcomeFromProto(r->label().label());
    for (const auto& [attr, group] : p.groups()) {
      e.attributes.emplace_back(attr, group);
    }
    std::sort(e.attributes.begin(), e.attributes.end());
    // A slice key is an attribute or a categorical feature of the event;
    // as features they feed the slices and not fairness.
    for (const auto& [key, value] : p.slices()) {
      FeatureValue v;
      v.kind = FeatureValue::Kind::kCategory;
      v.category = value;
      e.features.emplace_back(key, std::move(v));
    }
    std::sort(e.features.begin(), e.features.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const absl::Duration delay =
        std::max(absl::ZeroDuration(), LabelTime(*r) - e.timestamp);
    // Late: known only after the window ended (a label that came while it
    // was open is joined here too, since agents join none).
    const bool late =
        !r->has_window_end() || LabelTime(*r) >= FromProto(r->window_end());
    acc.AddJoinedLabel(e, delay, late);
  }
  acc.CountLabelMisses(0, evicted);
  v1::WindowSummary summary = acc.Build();
  if (profile != nullptr) summary.set_profile_id(profile->profile_id());
  return summary;
}

}  // namespace aims::collector

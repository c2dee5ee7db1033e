#include "common/summary/window_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "common/summary/summary_merge.h"

namespace aims {
namespace {

constexpr char kMaxForwardedLabels[] = "--max_forwarded_labels";
constexpr char kMaxForwardedLabelBytes[] = "--max_forwarded_label_bytes";

const std::string* AttributeOf(const Event& e, const std::string& name) {
  for (const auto& [k, v] : e.attributes) {
    if (k == name) return &v;
  }
  return nullptr;
}

// `value` as the summary folded it: its own name when the summary lists it
// among `names`, else "__other__".
std::string Folded(const std::string& value,
                   const absl::flat_hash_set<absl::string_view>& names) {
  return names.contains(value) ? value : std::string(kOtherBucket);
}

}  // namespace

WindowState::WindowState(std::shared_ptr<const SummaryConfig> config,
                         const JoinLimits* limits)
    : config_(std::move(config)),
      limits_(limits),
      acc_(std::make_unique<WindowAccumulator>(config_)) {}

uint64_t WindowState::BytesOf(const std::string& id, const Pending& p) {
  uint64_t bytes = 64 + id.size() + p.prediction.class_label.size();
  for (const auto& [k, v] : p.probabilities) bytes += k.size() + 12;
  for (const auto& [k, v] : p.attributes) bytes += k.size() + v.size() + 8;
  for (const auto& [k, v] : p.slices) bytes += k.size() + v.size() + 8;
  return bytes;
}

void WindowState::Remember(const Event& e, absl::Time arrival) {
  Pending p;
  p.predicted_at = e.timestamp == absl::InfinitePast() ? arrival : e.timestamp;
  p.prediction = e.prediction;
  p.score = e.score;
  p.probabilities = e.probabilities;
  p.attributes = e.attributes;
  for (const std::string& key : config_->slice_keys) {
    if (AttributeOf(e, key) != nullptr) continue;
    for (const auto& [name, value] : e.features) {
      if (name == key && value.kind == FeatureValue::Kind::kCategory) {
        p.slices.emplace_back(key, value.category);
        break;
      }
    }
  }
  const uint64_t bytes = BytesOf(e.prediction_id, p);
  if (pending_bytes_ + bytes > limits_->max_pending_bytes) {
    // Folded, but no label can join it: counted as evicted unlabelled.
    ++unjoinable_;
    acc_->CountLabelMisses(0, 1);
    ++other_activity_;
    return;
  }
  pending_bytes_ += bytes;
  pending_.emplace(e.prediction_id, std::move(p));
}

std::vector<size_t> WindowState::Add(const std::vector<Event>& events,
                                     absl::Time arrival) {
  std::vector<size_t> duplicates;
  const LimitOverflows before = acc_->overflows();
  // Columns for this call only: a window (aimsctl backfill holds many) keeps
  // no buffer sized by its largest batch.
  EventColumns batch;
  batch.Reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (!e.prediction_id.empty() && pending_.contains(e.prediction_id)) {
      duplicates.push_back(i);
      continue;
    }
    batch.Append(e);
    if (!e.prediction_id.empty() && !e.label.present()) Remember(e, arrival);
  }
  if (batch.rows() > 0) acc_->AddColumns(batch);
  overflows_ += acc_->overflows() - before;
  return duplicates;
}

void WindowState::RestoreLabel(const LabelEvent& label, absl::Time now) {
  v1::LabelEvent forwarded = LabelToProto(label, now);
  forwarded_bytes_ += forwarded.ByteSizeLong() + 4;
  forwarded_.push_back(std::move(forwarded));
}

LabelFate WindowState::AddLabel(const LabelEvent& label, absl::Time now,
                                EventError* error) {
  v1::LabelEvent forwarded = LabelToProto(label, now);
  const uint64_t bytes = forwarded.ByteSizeLong() + 4;
  if (forwarded_.size() >= limits_->max_forwarded_labels) {
    error->field = "prediction_id";
    error->reason = LimitReason(
        absl::StrCat(forwarded_.size(), " labels to forward in this window"),
        absl::StrCat(limits_->max_forwarded_labels), kMaxForwardedLabels);
    error->limit = LimitName(kMaxForwardedLabels);
    return LabelFate::kFull;
  }
  if (forwarded_bytes_ + bytes > limits_->max_forwarded_bytes) {
    error->field = "prediction_id";
    error->reason = LimitReason(
        absl::StrCat(forwarded_bytes_,
                     " bytes of labels to forward in this "
                     "window"),
        absl::StrCat(limits_->max_forwarded_bytes), kMaxForwardedLabelBytes);
    error->limit = LimitName(kMaxForwardedLabelBytes);
    return LabelFate::kFull;
  }
  forwarded_bytes_ += bytes;
  forwarded_.push_back(std::move(forwarded));
  return LabelFate::kForwarded;
}

void WindowState::CountRejected(absl::string_view reason, uint64_t n) {
  acc_->CountRejected(reason, n);
  other_activity_ += n;
}

bool WindowState::empty() const {
  return acc_->event_count() == 0 && other_activity_ == 0 &&
         !checkpoint_.has_value() && pending_.empty() && forwarded_.empty();
}

LimitOverflows WindowState::TakeOverflows() {
  LimitOverflows out = overflows_;
  overflows_ = LimitOverflows();
  return out;
}

uint64_t WindowState::TakeUnjoinable() {
  const uint64_t out = unjoinable_;
  unjoinable_ = 0;
  return out;
}

v1::PendingPrediction WindowState::RecordOf(const std::string& id,
                                            const Pending& p) const {
  v1::PendingPrediction out;
  out.set_prediction_id(id);
  *out.mutable_predicted_at() = ToProto(p.predicted_at);
  OutcomeToProto(p.prediction, out.mutable_prediction());
  if (p.score) out.set_score(*p.score);
  for (const auto& [k, v] : p.probabilities)
    (*out.mutable_probabilities())[k] = v;
  for (const auto& [k, v] : p.attributes) (*out.mutable_groups())[k] = v;
  for (const auto& [k, v] : p.slices) (*out.mutable_slices())[k] = v;
  return out;
}

absl::StatusOr<v1::WindowReport> WindowState::Checkpoint() {
  if (acc_->event_count() > 0 || other_activity_ > 0 ||
      !checkpoint_.has_value()) {
    if (!checkpoint_.has_value()) {
      checkpoint_ = acc_->Build();
    } else if (absl::Status s = MergeSummaries(&*checkpoint_, acc_->Build());
               !s.ok()) {
      return s;
    }
    acc_ = std::make_unique<WindowAccumulator>(config_);
    other_activity_ = 0;
  }
  v1::WindowReport out;
  *out.mutable_summary() = *checkpoint_;
  for (const auto& [id, p] : pending_) *out.add_predictions() = RecordOf(id, p);
  for (const v1::LabelEvent& l : forwarded_) *out.add_labels() = l;
  return out;
}

void WindowState::Restore(v1::WindowReport checkpoint) {
  checkpoint_ = std::move(*checkpoint.mutable_summary());
  pending_.clear();
  pending_bytes_ = 0;
  for (const v1::PendingPrediction& in : checkpoint.predictions()) {
    Pending p;
    p.predicted_at = FromProto(in.predicted_at());
    p.prediction = OutcomeFromProto(in.prediction());
    if (in.has_score()) p.score = in.score();
    for (const auto& [k, v] : in.probabilities())
      p.probabilities.emplace_back(k, v);
    for (const auto& [k, v] : in.groups()) p.attributes.emplace_back(k, v);
    for (const auto& [k, v] : in.slices()) p.slices.emplace_back(k, v);
    pending_bytes_ += BytesOf(in.prediction_id(), p);
    pending_.emplace(in.prediction_id(), std::move(p));
  }
  forwarded_.assign(checkpoint.labels().begin(), checkpoint.labels().end());
  forwarded_bytes_ = 0;
  for (const v1::LabelEvent& l : forwarded_) {
    forwarded_bytes_ += l.ByteSizeLong() + 4;
  }
}

v1::WindowReport WindowState::Take() {
  v1::WindowReport out;
  v1::WindowSummary& summary = *out.mutable_summary();
  if (!checkpoint_.has_value()) {
    summary = acc_->Build();
  } else {
    summary = std::move(*checkpoint_);
    if (acc_->event_count() > 0 || other_activity_ > 0) {
      // Both parts come from accumulators of one config, so they merge (a
      // failure would leave the checkpoint whole).
      (void)MergeSummaries(&summary, acc_->Build());
    }
  }
  summary.mutable_operational()->set_labels_awaited(pending_.size());
  // Groups and slice values as the summary folded them.
  using Names =
      absl::flat_hash_map<std::string, absl::flat_hash_set<absl::string_view>>;
  Names groups, values;
  for (const v1::AttributeSummary& a : summary.attributes()) {
    for (const v1::GroupCounts& g : a.groups()) {
      groups[a.attribute()].insert(g.group());
    }
  }
  for (const v1::SliceKeySummary& k : summary.slices()) {
    for (const v1::SliceValueSummary& v : k.values()) {
      values[k.key()].insert(v.value());
    }
  }
  static const absl::flat_hash_set<absl::string_view> kNone;
  auto names_of = [](const Names& names, const std::string& key)
      -> const absl::flat_hash_set<absl::string_view>& {
    auto it = names.find(key);
    return it == names.end() ? kNone : it->second;
  };
  for (const auto& [id, p] : pending_) {
    v1::PendingPrediction* record = out.add_predictions();
    *record = RecordOf(id, p);
    record->clear_groups();
    record->clear_slices();
    for (const auto& [k, v] : p.attributes) {
      (*record->mutable_groups())[k] = Folded(v, names_of(groups, k));
    }
    for (const std::string& key : config_->slice_keys) {
      const std::string* value = nullptr;
      for (const auto& [k, v] : p.attributes) {
        if (k == key) value = &v;
      }
      for (const auto& [k, v] : p.slices) {
        if (k == key) value = &v;
      }
      if (value != nullptr) {
        (*record->mutable_slices())[key] =
            Folded(*value, names_of(values, key));
      }
    }
  }
  // Join records in prediction order: reports are stable and readable.
  std::sort(out.mutable_predictions()->begin(),
            out.mutable_predictions()->end(),
            [](const v1::PendingPrediction& a, const v1::PendingPrediction& b) {
              return a.prediction_id() < b.prediction_id();
            });
  for (v1::LabelEvent& l : forwarded_) *out.add_labels() = std::move(l);
  acc_ = std::make_unique<WindowAccumulator>(config_);
  checkpoint_.reset();
  other_activity_ = 0;
  pending_.clear();
  pending_bytes_ = 0;
  forwarded_.clear();
  forwarded_bytes_ = 0;
  return out;
}

bool WindowState::SetConfigIfEmpty(
    std::shared_ptr<const SummaryConfig> config) {
  if (!empty()) return false;
  config_ = std::move(config);
  acc_ = std::make_unique<WindowAccumulator>(config_);
  return true;
}

}  // namespace aims

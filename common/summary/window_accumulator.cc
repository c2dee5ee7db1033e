#include "common/summary/window_accumulator.h"

#include <algorithm>

#include "absl/strings/string_view.h"

namespace aims {
LimitOverflows& LimitOverflows::operator+=(const LimitOverflows& o) {
  features += o.features;
  attributes += o.attributes;
  groups += o.groups;
  classes += o.classes;
  slices += o.slices;
  return *this;
}

LimitOverflows LimitOverflows::operator-(const LimitOverflows& o) const {
  LimitOverflows d;
  d.features = features - o.features;
  d.attributes = attributes - o.attributes;
  d.groups = groups - o.groups;
  d.classes = classes - o.classes;
  d.slices = slices - o.slices;
  return d;
}

WindowAccumulator::WindowAccumulator(
    std::shared_ptr<const SummaryConfig> config)
    : config_(std::move(config)),
      latency_(config_->sketch_relative_accuracy),
      label_delay_(config_->sketch_relative_accuracy) {
  if (config_->profile) {
    for (int i = 0; i < 2; ++i) {
      score_by_label_[i].assign(config_->profile->score_edges_size() + 1, 0);
    }
  }
  if (!config_->slice_keys.empty() && !config_->counts_only) {
    auto child = std::make_shared<SummaryConfig>(*config_);
    child->slice_keys.clear();
    child->counts_only = true;
    slice_config_ = std::move(child);
    slices_.resize(config_->slice_keys.size());
  }
}

WindowAccumulator::~WindowAccumulator() = default;

WindowAccumulator::FeatureState* WindowAccumulator::Feature(
    absl::string_view name) {
  auto it = features_.find(name);
  if (it != features_.end()) return &it->second;
  if (features_.size() >= config_->max_features) return nullptr;
  FeatureState state;
  state.sketch = QuantileSketch(config_->sketch_relative_accuracy);
  state.sketched = !config_->counts_only;
  if (config_->profile) {
    for (const v1::FeatureProfile& fp : config_->profile->features()) {
      if (fp.name() == name) {
        state.profile = &fp;
        state.kind_known = true;
        state.numeric = fp.kind() == v1::FeatureProfile::KIND_NUMERIC;
        if (!config_->counts_only) {
          state.histogram.assign(
              state.numeric ? fp.edges_size() + 1 : fp.categories_size() + 1,
              0);
        }
        for (int c = 0; c < fp.categories_size(); ++c) {
          state.category_bins.emplace(fp.categories(c), c);
        }
        // The profile's bins answer drift; a sketch only on request.
        if (state.numeric && config_->feature_sketches ==
                                 SummaryConfig::FeatureSketches::kUnprofiled) {
          state.sketched = false;
        }
        break;
      }
    }
  }
  return &features_.emplace(std::string(name), std::move(state)).first->second;
}

size_t WindowAccumulator::ClassIndex(const std::string& label) {
  auto it = class_index_.find(label);
  if (it != class_index_.end()) return it->second;
  const size_t limit = config_->max_classes;
  if (classes_.size() + 1 >= limit) {
    ++overflows_.classes;
    // Keep the last slot for everything beyond the limit.
    if (classes_.size() < limit) {
      classes_.emplace_back(kOtherBucket);
      class_index_[std::string(kOtherBucket)] = classes_.size() - 1;
    }
    return limit - 1;
  }
  classes_.push_back(label);
  class_index_[label] = classes_.size() - 1;
  return classes_.size() - 1;
}

void WindowAccumulator::BuildSlices(v1::WindowSummary* out) const {
  for (size_t k = 0; k < slices_.size(); ++k) {
    const SliceKey& slice = slices_[k];
    v1::SliceKeySummary* ks = out->add_slices();
    ks->set_key(config_->slice_keys[k]);
    ks->set_missing(slice.missing);
    ks->set_max_values(static_cast<uint32_t>(config_->max_slice_values));
    std::vector<const std::string*> names;
    for (const auto& [value, child] : slice.values) names.push_back(&value);
    std::sort(names.begin(), names.end(),
              [](const auto* a, const auto* b) { return *a < *b; });
    for (const std::string* name : names) {
      v1::SliceValueSummary* vs = ks->add_values();
      vs->set_value(*name);
      *vs->mutable_summary() = slice.values.at(*name)->Build();
      // The predictions' distribution is drift's, not a slice's.
      auto* features = vs->mutable_summary()->mutable_features();
      for (int i = 0; i < features->size(); ++i) {
        if (features->Get(i).name() == kPredictionFeature) {
          features->DeleteSubrange(i, 1);
          break;
        }
      }
    }
  }
  std::sort(out->mutable_slices()->begin(), out->mutable_slices()->end(),
            [](const v1::SliceKeySummary& a, const v1::SliceKeySummary& b) {
              return a.key() < b.key();
            });
}

void WindowAccumulator::CountLabelMisses(uint64_t unmatched, uint64_t evicted) {
  labels_unmatched_ += unmatched;
  labels_evicted_ += evicted;
}

void WindowAccumulator::CountRejected(absl::string_view reason, uint64_t n) {
  rejected_[reason] += n;
}

v1::WindowSummary WindowAccumulator::Build() const {
  v1::WindowSummary out;
  if (config_->profile) out.set_profile_id(config_->profile->profile_id());
  v1::OperationalSummary* op = out.mutable_operational();
  op->set_event_count(event_count_);
  op->set_labelable_count(labelable_);
  op->set_error_count(error_count_);
  if (!latency_.empty()) latency_.ToProto(op->mutable_latency_seconds());
  op->set_labels_matched(labels_matched_);
  op->set_labels_late(labels_late_);
  op->set_labels_unmatched(labels_unmatched_);
  op->set_labels_evicted(labels_evicted_);
  if (!label_delay_.empty())
    label_delay_.ToProto(op->mutable_label_delay_seconds());
  for (const auto& [reason, n] : rejected_) {
    (*op->mutable_rejected_by_reason())[reason] = n;
  }

  v1::PerformanceSummary* perf = out.mutable_performance();
  perf->set_labelled_count(labelled_);
  if (!classes_.empty() && !confusion_.empty()) {
    const size_t k = classes_.size();
    const size_t stride = config_->max_classes;
    for (const std::string& c : classes_)
      perf->mutable_confusion()->add_classes(c);
    for (size_t a = 0; a < k; ++a) {
      for (size_t p = 0; p < k; ++p) {
        perf->mutable_confusion()->add_counts(confusion_[a * stride + p]);
      }
    }
  }
  if (probability_.n() > 0) *perf->mutable_probability() = probability_;
  if (regression_.n() > 0) *perf->mutable_regression() = regression_;
  if (!score_by_label_[0].empty() && labelled_ > 0) {
    for (const auto& h : score_by_label_) {
      perf->add_score_by_label()->mutable_counts()->Add(h.begin(), h.end());
    }
  }

  std::vector<const std::pair<const std::string, FeatureState>*> features;
  for (const auto& entry : features_) features.push_back(&entry);
  std::sort(features.begin(), features.end(),
            [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* entry : features) {
    const FeatureState& f = entry->second;
    v1::FeatureSummary* fs = out.add_features();
    fs->set_name(entry->first);
    // Events without the feature count as missing; the prediction's absence
    // is not a data-quality problem of the inputs, but is counted alike.
    v1::DataQuality* q = fs->mutable_quality();
    q->set_missing(event_count_ - f.present);
    q->set_wrong_type(f.wrong_type);
    q->set_non_finite(f.non_finite);
    q->set_out_of_range(f.out_of_range);
    q->set_unseen_category(f.unseen_category);
    if (!f.histogram.empty()) {
      fs->mutable_histogram()->mutable_counts()->Add(f.histogram.begin(),
                                                     f.histogram.end());
    }
    if (f.n > 0) {
      if (f.sketched) f.sketch.ToProto(fs->mutable_sketch());
      fs->set_n(f.n);
      fs->set_sum(f.sum);
      fs->set_sum_squares(f.sum_squares);
    }
  }

  std::vector<std::string> attribute_names;
  for (const auto& [name, groups] : attributes_)
    attribute_names.push_back(name);
  std::sort(attribute_names.begin(), attribute_names.end());
  for (const std::string& name : attribute_names) {
    const GroupMap& groups = attributes_.at(name);
    v1::AttributeSummary* as = out.add_attributes();
    as->set_attribute(name);
    std::vector<std::string> group_names;
    uint64_t total = 0;
    for (const auto& [g, s] : groups) {
      group_names.push_back(g);
      total += s.n;
    }
    std::sort(group_names.begin(), group_names.end());
    as->set_missing(event_count_ - total);
    for (const std::string& g : group_names) {
      const GroupState& s = groups.at(g);
      v1::GroupCounts* gc = as->add_groups();
      gc->set_group(g);
      gc->set_n(s.n);
      gc->set_predicted_positive(s.predicted_positive);
      gc->set_labelled(s.labelled);
      gc->set_true_positive(s.tp);
      gc->set_false_positive(s.fp);
      gc->set_true_negative(s.tn);
      gc->set_false_negative(s.fn);
    }
  }
  BuildSlices(&out);
  return out;
}

}  // namespace aims

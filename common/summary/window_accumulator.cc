#include "common/summary/window_accumulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/string_view.h"

namespace aims {
namespace {

// Index of `v` on numeric edges, with under- and overflow bins: the number
// of edges <= v. Profiles have few edges (10 by default, 100 score bins), so
// a branch-free count, two edges per SSE2 compare, beats a binary search
// whose branches mispredict on every value (perf: a loop of comisd/sbb was
// 12 % of the update path).
size_t NumericBin(const google::protobuf::RepeatedField<double>& edges,
                  double v) {
  const int n = edges.size();
  if (n > 256) {
    return std::upper_bound(edges.begin(), edges.end(), v) - edges.begin();
  }
  // upper_bound's answer for NaN, which no edge compares <= to.
  if (n > 64 && std::isnan(v)) return n;
  const double* e = edges.data();
  size_t bin = 0;
  int i = 0;
#if defined(__SSE2__)
  const __m128d value = _mm_set1_pd(v);
  __m128i low = _mm_setzero_si128(), high = _mm_setzero_si128();
  for (; i + 4 <= n; i += 4) {
    // A true compare is all ones, -1 as an int64: subtracting counts it.
    low = _mm_sub_epi64(
        low, _mm_castpd_si128(_mm_cmple_pd(_mm_loadu_pd(e + i), value)));
    high = _mm_sub_epi64(
        high, _mm_castpd_si128(_mm_cmple_pd(_mm_loadu_pd(e + i + 2), value)));
  }
  low = _mm_add_epi64(low, high);
  bin = static_cast<size_t>(_mm_cvtsi128_si64(low) +
                            _mm_cvtsi128_si64(_mm_unpackhi_epi64(low, low)));
#endif
  for (; i < n; ++i) bin += e[i] <= v;
  return bin;
}

// a == b for feature names, which are short: two overlapping 8-byte (or
// 4-byte) loads instead of a call to memcmp, which was 8 % of the update
// path in the layout check.
bool SameName(const std::string& a, const std::string& b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8 && n <= 16) {
    uint64_t x0, y0, x1, y1;
    std::memcpy(&x0, x, 8);
    std::memcpy(&y0, y, 8);
    std::memcpy(&x1, x + n - 8, 8);
    std::memcpy(&y1, y + n - 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  if (n >= 4 && n < 8) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, x, 4);
    std::memcpy(&y0, y, 4);
    std::memcpy(&x1, x + n - 4, 4);
    std::memcpy(&y1, y + n - 4, 4);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  return a == b;
}

}  // namespace

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
        break;
      }
    }
  }
  return &features_.emplace(std::string(name), std::move(state)).first->second;
}

void WindowAccumulator::AddFeatureValue(FeatureState* f,
                                        const FeatureValue& v) {
  if (v.kind == FeatureValue::Kind::kMissing) return;
  const bool numeric = v.kind == FeatureValue::Kind::kNumber;
  if (!f->kind_known) {
    f->kind_known = true;
    f->numeric = numeric;
  }
  ++f->present;
  if (numeric != f->numeric) {
    ++f->wrong_type;
    return;
  }
  if (numeric) {
    if (!std::isfinite(v.number)) {
      ++f->non_finite;
      return;
    }
    ++f->n;
    if (config_->counts_only) {
      if (f->profile != nullptr &&
          (v.number < f->profile->min() || v.number > f->profile->max())) {
        ++f->out_of_range;
      }
      return;
    }
    f->sum += v.number;
    f->sum_squares += v.number * v.number;
    f->sketch.Add(v.number);
    if (f->profile != nullptr) {
      ++f->histogram[NumericBin(f->profile->edges(), v.number)];
      if (v.number < f->profile->min() || v.number > f->profile->max()) {
        ++f->out_of_range;
      }
    }
    return;
  }
  if (f->profile != nullptr) {
    auto it = f->category_bins.find(v.category);
    if (it == f->category_bins.end()) {
      ++f->unseen_category;
      if (!f->histogram.empty()) ++f->histogram.back();
    } else if (!f->histogram.empty()) {
      ++f->histogram[it->second];
    }
  }
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

std::string WindowAccumulator::PredictedClass(const Event& event) const {
  if (event.prediction.present()) return event.prediction.AsClass();
  if (config_->task == v1::TASK_TYPE_BINARY && event.score) {
    // A bare score predicts the positive class from 0.5 up.
    return *event.score >= 0.5 ? config_->positive_class : "";
  }
  return "";
}

void WindowAccumulator::AddPerformance(const Event& event,
                                       const std::string& predicted,
                                       const std::string& actual) {
  if (!event.label.present()) return;
  ++labelled_;
  if (config_->task == v1::TASK_TYPE_REGRESSION) {
    if (event.prediction.kind != Outcome::Kind::kNumber ||
        event.label.kind != Outcome::Kind::kNumber) {
      return;
    }
    const double y = event.label.number;
    const double e = event.prediction.number - y;
    regression_.set_n(regression_.n() + 1);
    regression_.set_sum_error(regression_.sum_error() + e);
    regression_.set_sum_abs_error(regression_.sum_abs_error() + std::fabs(e));
    regression_.set_sum_squared_error(regression_.sum_squared_error() + e * e);
    regression_.set_sum_label(regression_.sum_label() + y);
    regression_.set_sum_label_squared(regression_.sum_label_squared() + y * y);
    if (y != 0) {
      regression_.set_n_nonzero_label(regression_.n_nonzero_label() + 1);
      regression_.set_sum_abs_percentage_error(
          regression_.sum_abs_percentage_error() + std::fabs(e / y));
    }
    return;
  }
  if (!predicted.empty()) {
    const size_t a = ClassIndex(actual);
    const size_t p = ClassIndex(predicted);
    if (confusion_.empty()) {
      confusion_.assign(config_->max_classes * config_->max_classes, 0);
    }
    ++confusion_[a * config_->max_classes + p];
  }
  // Probability of the true class, from a score (binary) or probabilities.
  const bool positive = actual == config_->positive_class;
  if (config_->task == v1::TASK_TYPE_BINARY && event.score) {
    const double s = *event.score;
    const double p_true = positive ? s : 1 - s;
    probability_.set_n(probability_.n() + 1);
    probability_.set_sum_log_loss(probability_.sum_log_loss() -
                                  std::log(std::max(p_true, 1e-15)));
    // Both classes contribute: (s - y)^2 + ((1 - s) - (1 - y))^2.
    const double y = positive ? 1.0 : 0.0;
    probability_.set_sum_brier(probability_.sum_brier() +
                               2 * (s - y) * (s - y));
    if (!score_by_label_[0].empty()) {
      ++score_by_label_[positive ? 1 : 0]
                       [NumericBin(config_->profile->score_edges(), s)];
    }
  } else if (!event.probabilities.empty()) {
    double p_true = 0;
    double brier = 0;
    bool found = false;
    for (const auto& [cls, p] : event.probabilities) {
      const bool is_true = cls == actual;
      if (is_true) {
        p_true = p;
        found = true;
      }
      brier += (p - (is_true ? 1 : 0)) * (p - (is_true ? 1 : 0));
    }
    if (!found) brier += 1;  // the true class had probability 0
    probability_.set_n(probability_.n() + 1);
    probability_.set_sum_log_loss(probability_.sum_log_loss() -
                                  std::log(std::max(p_true, 1e-15)));
    probability_.set_sum_brier(probability_.sum_brier() + brier);
  }
}

void WindowAccumulator::AddFairness(const Event& event,
                                    const std::string& predicted,
                                    const std::string& actual, bool selection,
                                    bool outcome) {
  if (event.attributes.empty() || config_->counts_only) return;
  const bool predicted_positive = predicted == config_->positive_class;
  const bool labelled = event.label.present();
  const bool actual_positive = labelled && actual == config_->positive_class;
  for (const auto& [attribute, group] : event.attributes) {
    auto attr_it = attributes_.find(attribute);
    if (attr_it == attributes_.end()) {
      if (attributes_.size() >= config_->max_attributes) {
        ++overflows_.attributes;
        continue;
      }
      attr_it = attributes_.emplace(attribute, GroupMap()).first;
    }
    GroupMap& groups = attr_it->second;
    auto it = groups.find(group);
    if (it == groups.end()) {
      const bool full = groups.size() + 1 >= config_->max_groups_per_attribute;
      if (full) ++overflows_.groups;
      it =
          groups.emplace(full ? std::string(kOtherBucket) : group, GroupState())
              .first;
    }
    GroupState& g = it->second;
    if (selection) {
      ++g.n;
      if (predicted_positive) ++g.predicted_positive;
    }
    if (outcome && labelled && !predicted.empty()) {
      ++g.labelled;
      if (predicted_positive && actual_positive) ++g.tp;
      if (predicted_positive && !actual_positive) ++g.fp;
      if (!predicted_positive && !actual_positive) ++g.tn;
      if (!predicted_positive && actual_positive) ++g.fn;
    }
  }
}

void WindowAccumulator::Add(const Event& event) {
  ++event_count_;
  if (event.label.present() || !event.prediction_id.empty()) ++labelable_;
  if (event.error) ++error_count_;
  if (event.latency_seconds && !config_->counts_only)
    latency_.Add(*event.latency_seconds);
  const size_t n = event.features.size();
  if (layout_.size() < n) layout_.resize(n, {nullptr, nullptr});
  for (size_t i = 0; i < n; ++i) {
    const auto& [name, value] = event.features[i];
    FeatureState* f = nullptr;
    if (layout_[i].first != nullptr && SameName(*layout_[i].first, name)) {
      f = layout_[i].second;
    } else {
      f = Feature(name);
      if (f == nullptr) {
        ++rejected_["feature_limit"];
        ++overflows_.features;
        continue;
      }
      layout_[i] = {&features_.find(name)->first, f};
    }
    AddFeatureValue(f, value);
  }
  // The prediction is summarised like a feature so that it can drift too.
  FeatureValue prediction;
  if (config_->task == v1::TASK_TYPE_REGRESSION &&
      event.prediction.kind == Outcome::Kind::kNumber) {
    prediction.kind = FeatureValue::Kind::kNumber;
    prediction.number = event.prediction.number;
  } else if (config_->task == v1::TASK_TYPE_BINARY && event.score) {
    prediction.kind = FeatureValue::Kind::kNumber;
    prediction.number = *event.score;
  } else if (event.prediction.present()) {
    prediction.kind = FeatureValue::Kind::kCategory;
    prediction.category = event.prediction.AsClass();
  }
  if (prediction.kind != FeatureValue::Kind::kMissing) {
    if (prediction_state_ == nullptr)
      prediction_state_ = Feature(kPredictionFeature);
    if (prediction_state_ != nullptr) {
      AddFeatureValue(prediction_state_, prediction);
    } else {
      ++rejected_["feature_limit"];
      ++overflows_.features;
    }
  }
  const std::string predicted = PredictedClass(event);
  const std::string actual = event.label.present() ? event.label.AsClass() : "";
  AddPerformance(event, predicted, actual);
  AddFairness(event, predicted, actual, /*selection=*/true, /*outcome=*/true);
  if (!slices_.empty()) AddSlices(event, nullptr, false);
}

namespace {

// The event's value for slice key `key`: an attribute of that name, else a
// categorical feature; null when it has neither.
const std::string* SliceValueOf(const Event& event, const std::string& key) {
  for (const auto& [name, value] : event.attributes) {
    if (name == key) return &value;
  }
  for (const auto& [name, value] : event.features) {
    if (name == key && value.kind == FeatureValue::Kind::kCategory)
      return &value.category;
  }
  return nullptr;
}

}  // namespace

void WindowAccumulator::AddSlices(const Event& event,
                                  const absl::Duration* joined_delay,
                                  bool late) {
  for (size_t k = 0; k < slices_.size(); ++k) {
    SliceKey& slice = slices_[k];
    const std::string* value = SliceValueOf(event, config_->slice_keys[k]);
    if (value == nullptr) {
      if (joined_delay == nullptr) ++slice.missing;
      continue;
    }
    auto it = slice.values.find(*value);
    if (it == slice.values.end()) {
      const bool full = slice.values.size() >= config_->max_slice_values &&
                        *value != kOtherBucket;
      if (full) {
        ++overflows_.slices;
        it = slice.values.find(kOtherBucket);
      }
      if (it == slice.values.end()) {
        it = slice.values
                 .emplace(full ? std::string(kOtherBucket) : *value,
                          std::make_unique<WindowAccumulator>(slice_config_))
                 .first;
      }
    }
    if (joined_delay == nullptr) {
      it->second->Add(event);
    } else {
      it->second->AddJoinedLabel(event, *joined_delay, late);
    }
  }
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

void WindowAccumulator::AddJoinedLabel(const Event& joined,
                                       absl::Duration delay, bool late) {
  ++labels_matched_;
  if (late) ++labels_late_;
  label_delay_.Add(absl::ToDoubleSeconds(delay));
  const std::string predicted = PredictedClass(joined);
  const std::string actual = joined.label.AsClass();
  AddPerformance(joined, predicted, actual);
  AddFairness(joined, predicted, actual, /*selection=*/false, /*outcome=*/true);
  if (!slices_.empty()) AddSlices(joined, &delay, late);
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
      if (!config_->counts_only) f.sketch.ToProto(fs->mutable_sketch());
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

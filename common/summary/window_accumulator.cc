#include "common/summary/window_accumulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/string_view.h"

namespace aims {
namespace {

// Index of `v` on numeric edges, with under- and overflow bins: the number
// of edges <= v. Profiles have few edges (10 by default), so a branch-free
// count beats a binary search whose branches mispredict on every value.
size_t NumericBin(const google::protobuf::RepeatedField<double>& edges,
                  double v) {
  const int n = edges.size();
  if (n > 64) {
    return std::upper_bound(edges.begin(), edges.end(), v) - edges.begin();
  }
  const double* e = edges.data();
  size_t bin = 0;
  for (int i = 0; i < n; ++i) bin += e[i] <= v;
  return bin;
}

// a == b, inline: feature names are short, and std::string's == calls
// memcmp through the PLT, a tenth of the column fold's time per value.
bool SameName(const std::string& a, const std::string& b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t u, v;
    std::memcpy(&u, p + i, 8);
    std::memcpy(&v, q + i, 8);
    if (u != v) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

}  // namespace

LimitOverflows& LimitOverflows::operator+=(const LimitOverflows& o) {
  features += o.features;
  attributes += o.attributes;
  groups += o.groups;
  classes += o.classes;
  return *this;
}

LimitOverflows LimitOverflows::operator-(const LimitOverflows& o) const {
  LimitOverflows d;
  d.features = features - o.features;
  d.attributes = attributes - o.attributes;
  d.groups = groups - o.groups;
  d.classes = classes - o.classes;
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
}

WindowAccumulator::FeatureState* WindowAccumulator::Feature(
    absl::string_view name) {
  auto it = features_.find(name);
  if (it != features_.end()) return &it->second;
  if (features_.size() >= config_->max_features) return nullptr;
  FeatureState state;
  state.sketch = QuantileSketch(config_->sketch_relative_accuracy);
  state.is_prediction = name == kPredictionFeature;
  if (config_->profile) {
    for (const v1::FeatureProfile& fp : config_->profile->features()) {
      if (fp.name() == name) {
        state.profile = &fp;
        state.kind_known = true;
        state.numeric = fp.kind() == v1::FeatureProfile::KIND_NUMERIC;
        state.histogram.assign(
            state.numeric ? fp.edges_size() + 1 : fp.categories_size() + 1, 0);
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
      ++f->histogram.back();
    } else {
      ++f->histogram[it->second];
    }
  }
}

WindowAccumulator::FeatureState* WindowAccumulator::Resolve(
    size_t position, const std::string& name) {
  if (layout_.size() <= position) layout_.resize(position + 1);
  auto& [cached_name, cached] = layout_[position];
  if (cached_name != nullptr && SameName(*cached_name, name)) return cached;
  FeatureState* f = Feature(name);
  if (f != nullptr) layout_[position] = {&features_.find(name)->first, f};
  return f;
}

void WindowAccumulator::AddColumn(FeatureState* f,
                                  const FeatureValue* const* values,
                                  const FeatureValue::Kind* kinds,
                                  const double* numbers, size_t count) {
  size_t k = 0;
  // The first value present fixes the kind.
  for (; k < count && !f->kind_known; ++k) AddFeatureValue(f, *values[k]);
  if (!f->numeric) {
    for (; k < count; ++k) AddFeatureValue(f, *values[k]);
    return;
  }
  numbers_.resize(count);
  double* finite = numbers_.data();
  size_t n = 0;
  uint64_t present = 0, wrong_type = 0, non_finite = 0;
  for (; k < count; ++k) {
    const FeatureValue::Kind kind = kinds[k];
    const double v = numbers[k];
    present += kind != FeatureValue::Kind::kMissing;
    wrong_type += kind == FeatureValue::Kind::kCategory;
    const bool number = kind == FeatureValue::Kind::kNumber;
    const bool ok = std::isfinite(v);
    non_finite += number & !ok;
    finite[n] = v;  // kept only when a finite number
    n += number & ok;
  }
  f->present += present;
  f->wrong_type += wrong_type;
  f->non_finite += non_finite;
  const double* x = finite;
  // Sums in event order, as AddFeatureValue adds them: the same rounding.
  double sum = f->sum, sum_squares = f->sum_squares;
  for (size_t i = 0; i < n; ++i) {
    sum += x[i];
    sum_squares += x[i] * x[i];
  }
  f->sum = sum;
  f->sum_squares = sum_squares;
  f->n += n;
  f->sketch.AddFinite(x, n);
  if (f->profile == nullptr) return;
  const auto& edges = f->profile->edges();
  const double lo = f->profile->min(), hi = f->profile->max();
  uint64_t* histogram = f->histogram.data();
  uint64_t out_of_range = 0;
  for (size_t i = 0; i < n; ++i) out_of_range += (x[i] < lo) | (x[i] > hi);
  f->out_of_range += out_of_range;
  if (edges.size() > 64) {
    for (size_t i = 0; i < n; ++i) ++histogram[NumericBin(edges, x[i])];
    return;
  }
  // NumericBin for the whole run, edge by edge: the inner loop over values
  // vectorizes.
  bins_.assign(n, 0);
  uint32_t* bins = bins_.data();
  for (const double e : edges) {
    for (size_t i = 0; i < n; ++i) bins[i] += e <= x[i];
  }
  for (size_t i = 0; i < n; ++i) ++histogram[bins[i]];
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
  if (event.attributes.empty()) return;
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

bool WindowAccumulator::HasPrediction(const Event& event) const {
  return (config_->task == v1::TASK_TYPE_REGRESSION &&
          event.prediction.kind == Outcome::Kind::kNumber) ||
         (config_->task == v1::TASK_TYPE_BINARY && event.score) ||
         event.prediction.present();
}

void WindowAccumulator::Add(const Event& event) {
  for (size_t i = 0; i < event.features.size(); ++i) {
    FeatureState* f = Resolve(i, event.features[i].first);
    if (f == nullptr) {
      ++rejected_["feature_limit"];
      ++overflows_.features;
      continue;
    }
    AddFeatureValue(f, event.features[i].second);
  }
  AddOutcomes(event);
}

bool WindowAccumulator::ResolveBatch(absl::Span<const Event> events,
                                     size_t width, uint64_t* rejected) {
  const uint64_t batch = ++batches_;
  const size_t n = events.size();
  batch_slots_.assign(n * width, nullptr);
  batch_values_.resize(n * width);
  batch_kinds_.resize(n * width);
  batch_numbers_.resize(n * width);
  for (size_t k = 0; k < n; ++k) {
    const Event& e = events[k];
    const uint64_t event = ++batch_events_;
    for (size_t i = 0; i < e.features.size(); ++i) {
      FeatureState* f = Resolve(i, e.features[i].first);
      if (f == nullptr) {
        ++*rejected;
        continue;
      }
      // Column order would change the order of this feature's values (and
      // so its sums' rounding), or mix them with the prediction's.
      if (f->is_prediction || f->event == event ||
          (f->batch == batch && f->position != i)) {
        return false;
      }
      f->batch = batch;
      f->event = event;
      f->position = i;
      const FeatureValue& v = e.features[i].second;
      batch_slots_[i * n + k] = f;
      batch_values_[i * n + k] = &v;
      batch_kinds_[i * n + k] = v.kind;
      batch_numbers_[i * n + k] = v.number;
    }
    // Add creates the prediction's state after the event's features.
    if (prediction_state_ == nullptr && HasPrediction(e)) {
      prediction_state_ = Feature(kPredictionFeature);
    }
  }
  return true;
}

void WindowAccumulator::AddBatch(absl::Span<const Event> events) {
  size_t width = 0;
  for (const Event& e : events) width = std::max(width, e.features.size());
  uint64_t rejected = 0;
  if (!ResolveBatch(events, width, &rejected)) {
    for (const Event& e : events) Add(e);
    return;
  }
  if (rejected > 0) {
    rejected_["feature_limit"] += rejected;
    overflows_.features += rejected;
  }
  const size_t n = events.size();
  for (size_t i = 0; i < width; ++i) {
    FeatureState* const* slots = &batch_slots_[i * n];
    size_t k = 0;
    while (k < n) {
      FeatureState* f = slots[k];
      if (f == nullptr) {
        ++k;
        continue;
      }
      const size_t begin = k;
      while (k < n && slots[k] == f) ++k;
      const size_t at = i * n + begin;
      AddColumn(f, &batch_values_[at], &batch_kinds_[at], &batch_numbers_[at],
                k - begin);
    }
  }
  for (const Event& e : events) AddOutcomes(e);
}

void WindowAccumulator::AddOutcomes(const Event& event) {
  ++event_count_;
  if (event.error) ++error_count_;
  if (event.latency_seconds) latency_.Add(*event.latency_seconds);
  // The prediction is summarised like a feature so that it can drift too.
  if (HasPrediction(event)) {
    FeatureValue prediction;
    if (config_->task == v1::TASK_TYPE_REGRESSION &&
        event.prediction.kind == Outcome::Kind::kNumber) {
      prediction.kind = FeatureValue::Kind::kNumber;
      prediction.number = event.prediction.number;
    } else if (config_->task == v1::TASK_TYPE_BINARY && event.score) {
      prediction.kind = FeatureValue::Kind::kNumber;
      prediction.number = *event.score;
    } else {
      prediction.kind = FeatureValue::Kind::kCategory;
      prediction.category = event.prediction.AsClass();
    }
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
      f.sketch.ToProto(fs->mutable_sketch());
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
  return out;
}

}  // namespace aims

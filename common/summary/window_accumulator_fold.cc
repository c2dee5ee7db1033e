// The fold of WindowAccumulator: a batch of events, column by column. Each
// feature's state, bins and sketch stay in the L1 cache for its whole
// column, and names, categories, groups and classes are resolved once per
// distinct value of a batch instead of once per event.
#include <algorithm>
#include <cmath>

#include "common/summary/numeric_bins.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

using Cell = EventColumns::Cell;

// The position in `rows` of the first row whose cell is listed; rows.size()
// when none is.
size_t FirstListed(const EventColumns::Feature& col,
                   absl::Span<const uint32_t> rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (col.cell[rows[i]] != Cell::kAbsent) return i;
  }
  return rows.size();
}

}  // namespace

void WindowAccumulator::Add(const Event& event) { AddColumns(Single(event)); }

const EventColumns& WindowAccumulator::Single(const Event& event) {
  if (single_ == nullptr) single_ = std::make_unique<EventColumns>();
  single_->Clear();
  single_->Append(event);
  return *single_;
}

void WindowAccumulator::AddColumns(const EventColumns& batch) {
  if (batch.NeedsRowOrder()) {
    for (uint32_t r = 0; r < batch.rows(); ++r) {
      AddRows(batch, absl::MakeConstSpan(&r, 1));
    }
    return;
  }
  // Scratch of one batch lives for the call: an accumulator (one per open
  // window, and per slice value) keeps no buffer sized by its largest batch.
  std::vector<uint32_t> all_rows(batch.rows());
  for (size_t i = 0; i < all_rows.size(); ++i) {
    all_rows[i] = static_cast<uint32_t>(i);
  }
  AddRows(batch, all_rows);
}

void WindowAccumulator::AddRows(const EventColumns& b, Rows rows) {
  event_count_ += rows.size();
  for (uint32_t r : rows) {
    const uint8_t flags = b.flags(r);
    if (flags & EventColumns::kLabelable) ++labelable_;
    if (flags & EventColumns::kError) ++error_count_;
    if ((flags & EventColumns::kHasLatency) && !config_->counts_only) {
      latency_.Add(b.latency(r));
    }
  }
  FoldFeatures(b, rows);
  const std::vector<RowClasses> classes = ClassifyRows(b, rows);
  FoldPerformance(b, rows, classes);
  FoldFairness(b, rows, classes, /*selection=*/true, /*outcome=*/true);
  if (!slices_.empty()) FoldSlices(b, rows, nullptr, false);
}

void WindowAccumulator::FoldFeatures(const EventColumns& b, Rows rows) {
  const bool all = rows.size() == b.rows();
  // The prediction is summarised like a feature so that it can drift too.
  // Its state is made after the features of the first row that has one, as
  // a fold event by event would (which matters at max_features).
  size_t prediction_first = rows.size();
  if (prediction_state_ == nullptr) {
    const auto& p = b.predictions();
    for (size_t i = 0; i < rows.size(); ++i) {
      const uint32_t r = rows[i];
      if (p.kind[r] != Outcome::Kind::kNone ||
          (config_->task == v1::TASK_TYPE_BINARY &&
           (b.flags(r) & EventColumns::kHasScore))) {
        prediction_first = i;
        break;
      }
    }
  }
  if (column_states_.size() < b.feature_count()) {
    column_states_.resize(b.feature_count(), {nullptr, nullptr});
  }
  // Columns in the order a fold event by event meets them: of all rows,
  // the batch's order; of some rows (a slice), by the first of them that
  // lists each and its place there.
  fold_order_.clear();
  for (size_t c = 0; c < b.feature_count(); ++c) {
    const EventColumns::Feature& col = b.feature(c);
    const size_t first = all && col.first_row < rows.size() &&
                                 col.cell[col.first_row] != Cell::kAbsent
                             ? col.first_row
                             : FirstListed(col, rows);
    if (first == rows.size()) continue;
    const size_t place =
        all || col.position.empty() ? c : col.position[rows[first]];
    fold_order_.push_back({first, place, c});
  }
  if (!all) std::sort(fold_order_.begin(), fold_order_.end());
  for (const auto& [first, place, c] : fold_order_) {
    const EventColumns::Feature& col = b.feature(c);
    if (prediction_state_ == nullptr && prediction_first < first) {
      prediction_state_ = Feature(kPredictionFeature);
    }
    auto& [name, f] = column_states_[c];
    if (name == nullptr || *name != col.name) {
      f = Feature(col.name);
      name = f == nullptr ? nullptr : &features_.find(col.name)->first;
    }
    if (f == nullptr) {
      uint64_t listed = 0;
      for (uint32_t r : rows) listed += col.cell[r] != Cell::kAbsent;
      rejected_["feature_limit"] += listed;
      overflows_.features += listed;
      continue;
    }
    FoldColumn(f, col, rows, all);
  }
  if (prediction_state_ == nullptr && prediction_first < rows.size()) {
    prediction_state_ = Feature(kPredictionFeature);
  }
  FoldPrediction(b, rows);
}

void WindowAccumulator::FoldColumn(FeatureState* f,
                                   const EventColumns::Feature& col, Rows rows,
                                   bool all) {
  if (all && col.numbers == rows.size() && (!f->kind_known || f->numeric)) {
    f->kind_known = true;
    f->numeric = true;
    f->present += rows.size();
    FoldNumbers(f, col.number.data(), rows.size());
    return;
  }
  category_bins_.assign(col.categories.size(), -2);  // -2: not looked up
  for (uint32_t r : rows) {
    const Cell cell = col.cell[r];
    if (cell == Cell::kAbsent || cell == Cell::kNull) continue;
    const bool numeric = cell == Cell::kNumber;
    if (!OfItsKind(f, numeric)) continue;
    if (numeric) {
      AddNumber(f, col.number[r]);
    } else {
      int32_t& bin = category_bins_[col.category[r]];
      if (bin == -2) bin = CategoryBin(*f, col.categories[col.category[r]]);
      AddCategory(f, bin);
    }
  }
}

// The hot loop: every value of a numeric column, the feature's state in
// registers and L1.
void WindowAccumulator::FoldNumbers(FeatureState* f, const double* values,
                                    size_t n) {
  const v1::FeatureProfile* profile = f->profile;
  const double lo = profile != nullptr ? profile->min() : -HUGE_VAL;
  const double hi = profile != nullptr ? profile->max() : HUGE_VAL;
  uint64_t non_finite = 0, out_of_range = 0;
  if (config_->counts_only) {
    for (size_t i = 0; i < n; ++i) {
      const double v = values[i];
      non_finite += !std::isfinite(v);
      out_of_range += std::isfinite(v) && (v < lo || v > hi);
    }
  } else {
    double sum = f->sum, sum_squares = f->sum_squares;
    const bool binned = profile != nullptr && !f->histogram.empty();
    const double* edges = binned ? profile->edges().data() : nullptr;
    const int edge_count = binned ? profile->edges_size() : 0;
    uint64_t* histogram = f->histogram.data();
    for (size_t i = 0; i < n; ++i) {
      const double v = values[i];
      if (!std::isfinite(v)) {
        ++non_finite;
        continue;
      }
      sum += v;
      sum_squares += v * v;
      if (f->sketched) f->sketch.Add(v);
      out_of_range += v < lo || v > hi;
    }
    f->sum = sum;
    f->sum_squares = sum_squares;
    if (binned && non_finite == 0) {
      CountBins(edges, edge_count, values, n, histogram);
    } else if (binned) {
      for (size_t i = 0; i < n; ++i) {
        if (std::isfinite(values[i])) {
          ++histogram[SearchedBin(edges, edge_count, values[i])];
        }
      }
    }
  }
  f->non_finite += non_finite;
  f->n += n - non_finite;
  if (profile != nullptr) f->out_of_range += out_of_range;
}

bool WindowAccumulator::OfItsKind(FeatureState* f, bool numeric) {
  if (!f->kind_known) {
    f->kind_known = true;
    f->numeric = numeric;
  }
  ++f->present;
  if (numeric == f->numeric) return true;
  ++f->wrong_type;
  return false;
}

void WindowAccumulator::AddNumber(FeatureState* f, double v) {
  FoldNumbers(f, &v, 1);
}

int32_t WindowAccumulator::CategoryBin(const FeatureState& f,
                                       const std::string& category) {
  auto it = f.category_bins.find(category);
  return it == f.category_bins.end() ? -1 : static_cast<int32_t>(it->second);
}

void WindowAccumulator::AddCategory(FeatureState* f, int32_t bin) {
  if (f->profile == nullptr) return;
  if (bin < 0) ++f->unseen_category;
  if (f->histogram.empty()) return;
  ++f->histogram[bin < 0 ? f->histogram.size() - 1 : bin];
}

void WindowAccumulator::FoldPrediction(const EventColumns& b, Rows rows) {
  const auto& p = b.predictions();
  const bool regression = config_->task == v1::TASK_TYPE_REGRESSION;
  const bool binary = config_->task == v1::TASK_TYPE_BINARY;
  category_bins_.assign(p.classes.size(), -2);
  for (uint32_t r : rows) {
    const Outcome::Kind kind = p.kind[r];
    const bool scored = binary && (b.flags(r) & EventColumns::kHasScore);
    const bool number =
        (regression && kind == Outcome::Kind::kNumber) || scored;
    if (!number && kind == Outcome::Kind::kNone) continue;
    if (prediction_state_ == nullptr) {
      ++rejected_["feature_limit"];
      ++overflows_.features;
      continue;
    }
    FeatureState* f = prediction_state_;
    if (!OfItsKind(f, number)) continue;
    if (number) {
      AddNumber(f, regression && kind == Outcome::Kind::kNumber ? p.number[r]
                                                                : b.score(r));
    } else {
      int32_t& bin = category_bins_[p.class_code[r]];
      if (bin == -2) bin = CategoryBin(*f, p.classes[p.class_code[r]]);
      AddCategory(f, bin);
    }
  }
}

size_t WindowAccumulator::CachedClassIndex(const std::string& label,
                                           int32_t* slot) {
  if (*slot >= 0) return static_cast<size_t>(*slot);
  const size_t index = ClassIndex(label);
  // A class beyond the limit is counted each time it is seen: not cached.
  if (index < classes_.size() && classes_[index] == label) {
    *slot = static_cast<int32_t>(index);
  }
  return index;
}

std::vector<WindowAccumulator::RowClasses> WindowAccumulator::ClassifyRows(
    const EventColumns& b, Rows rows) {
  const auto& p = b.predictions();
  const auto& l = b.labels();
  class_slots_[0].assign(p.classes.size(), -1);
  class_slots_[1].assign(l.classes.size(), -1);
  const std::string& positive = config_->positive_class;
  const bool binary = config_->task == v1::TASK_TYPE_BINARY;
  // Whether each class code names the positive class, once per batch.
  for (int k = 0; k < 2; ++k) {
    const CodeDictionary& classes = k == 0 ? p.classes : l.classes;
    positive_codes_[k].resize(classes.size());
    for (uint32_t code = 0; code < classes.size(); ++code) {
      positive_codes_[k][code] = classes[code] == positive;
    }
  }
  std::vector<RowClasses> row_classes(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint32_t r = rows[i];
    RowClasses& c = row_classes[i];
    // The predicted class is "" when there is none; "" counts in no
    // confusion matrix, but is "positive" when the positive class is "".
    c.predicted_positive = positive.empty();
    if (p.kind[r] != Outcome::Kind::kNone) {
      const uint32_t code = p.class_code[r];
      c.predicted_positive = positive_codes_[0][code];
      if (!p.classes[code].empty()) {
        c.predicted = &p.classes[code];
        c.predicted_slot = &class_slots_[0][code];
      }
    } else if (binary && (b.flags(r) & EventColumns::kHasScore) &&
               b.score(r) >= 0.5) {
      // A bare score predicts the positive class from 0.5 up.
      c.predicted_positive = true;
      if (!positive.empty()) {
        c.predicted = &positive;
        c.predicted_slot = &positive_slot_;
      }
    }
    if (l.kind[r] != Outcome::Kind::kNone) {
      const uint32_t code = l.class_code[r];
      c.actual = &l.classes[code];
      c.actual_slot = &class_slots_[1][code];
      c.actual_positive = positive_codes_[1][code];
    }
  }
  return row_classes;
}

void WindowAccumulator::FoldPerformance(const EventColumns& b, Rows rows,
                                        absl::Span<const RowClasses> classes) {
  const auto& p = b.predictions();
  const auto& l = b.labels();
  const bool binary = config_->task == v1::TASK_TYPE_BINARY;
  static const std::string kNoClass;
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint32_t r = rows[i];
    if (l.kind[r] == Outcome::Kind::kNone) continue;
    ++labelled_;
    if (config_->task == v1::TASK_TYPE_REGRESSION) {
      if (p.kind[r] != Outcome::Kind::kNumber ||
          l.kind[r] != Outcome::Kind::kNumber) {
        continue;
      }
      const double y = l.number[r];
      const double e = p.number[r] - y;
      regression_.set_n(regression_.n() + 1);
      regression_.set_sum_error(regression_.sum_error() + e);
      regression_.set_sum_abs_error(regression_.sum_abs_error() + std::fabs(e));
      regression_.set_sum_squared_error(regression_.sum_squared_error() +
                                        e * e);
      regression_.set_sum_label(regression_.sum_label() + y);
      regression_.set_sum_label_squared(regression_.sum_label_squared() +
                                        y * y);
      if (y != 0) {
        regression_.set_n_nonzero_label(regression_.n_nonzero_label() + 1);
        regression_.set_sum_abs_percentage_error(
            regression_.sum_abs_percentage_error() + std::fabs(e / y));
      }
      continue;
    }
    const RowClasses& c = classes[i];
    if (c.predicted != nullptr) {
      const size_t a = CachedClassIndex(*c.actual, c.actual_slot);
      const size_t pi = CachedClassIndex(*c.predicted, c.predicted_slot);
      if (confusion_.empty()) {
        confusion_.assign(config_->max_classes * config_->max_classes, 0);
      }
      ++confusion_[a * config_->max_classes + pi];
    }
    // Probability of the true class, from a score (binary) or probabilities.
    if (binary && (b.flags(r) & EventColumns::kHasScore)) {
      const double s = b.score(r);
      const double p_true = c.actual_positive ? s : 1 - s;
      probability_.set_n(probability_.n() + 1);
      probability_.set_sum_log_loss(probability_.sum_log_loss() -
                                    std::log(std::max(p_true, 1e-15)));
      // Both classes contribute: (s - y)^2 + ((1 - s) - (1 - y))^2.
      const double y = c.actual_positive ? 1.0 : 0.0;
      probability_.set_sum_brier(probability_.sum_brier() +
                                 2 * (s - y) * (s - y));
      if (!score_by_label_[0].empty()) {
        ++score_by_label_[c.actual_positive ? 1 : 0]
                         [NumericBin(config_->profile->score_edges().data(),
                                     config_->profile->score_edges_size(), s)];
      }
    } else if (!b.probabilities(r).empty()) {
      double p_true = 0;
      double brier = 0;
      bool found = false;
      for (const auto& [cls, prob] : b.probabilities(r)) {
        const bool is_true = cls == *c.actual;
        if (is_true) {
          p_true = prob;
          found = true;
        }
        brier += (prob - (is_true ? 1 : 0)) * (prob - (is_true ? 1 : 0));
      }
      if (!found) brier += 1;  // the true class had probability 0
      probability_.set_n(probability_.n() + 1);
      probability_.set_sum_log_loss(probability_.sum_log_loss() -
                                    std::log(std::max(p_true, 1e-15)));
      probability_.set_sum_brier(probability_.sum_brier() + brier);
    }
  }
}

void WindowAccumulator::FoldFairness(const EventColumns& b, Rows rows,
                                     absl::Span<const RowClasses> classes,
                                     bool selection, bool outcome) {
  if (config_->counts_only) return;
  std::vector<GroupState*> groups_of_code;
  for (size_t a = 0; a < b.attribute_count(); ++a) {
    const EventColumns::Attribute& col = b.attribute(a);
    GroupMap* groups = nullptr;
    groups_of_code.assign(col.groups.size(), nullptr);
    for (size_t i = 0; i < rows.size(); ++i) {
      const uint32_t code = col.group[rows[i]];
      if (code == EventColumns::Attribute::kAbsent) continue;
      if (groups == nullptr) {
        auto it = attributes_.find(col.name);
        if (it == attributes_.end()) {
          if (attributes_.size() >= config_->max_attributes) {
            ++overflows_.attributes;
            continue;
          }
          it = attributes_.emplace(col.name, GroupMap()).first;
        }
        groups = &it->second;
      }
      GroupState* g = groups_of_code[code];
      if (g == nullptr) {
        const std::string& name = col.groups[code];
        auto it = groups->find(name);
        if (it == groups->end()) {
          const bool full =
              groups->size() + 1 >= config_->max_groups_per_attribute;
          if (full) ++overflows_.groups;
          it = groups
                   ->emplace(full ? std::string(kOtherBucket) : name,
                             GroupState())
                   .first;
          // A group beyond the limit is counted each time it is seen.
          if (!full) groups_of_code[code] = &it->second;
        } else {
          groups_of_code[code] = &it->second;
        }
        g = &it->second;
      }
      const RowClasses& c = classes[i];
      if (selection) {
        ++g->n;
        if (c.predicted_positive) ++g->predicted_positive;
      }
      if (outcome && c.actual != nullptr && c.predicted != nullptr) {
        ++g->labelled;
        if (c.predicted_positive && c.actual_positive) ++g->tp;
        if (c.predicted_positive && !c.actual_positive) ++g->fp;
        if (!c.predicted_positive && !c.actual_positive) ++g->tn;
        if (!c.predicted_positive && c.actual_positive) ++g->fn;
      }
    }
  }
}

void WindowAccumulator::FoldSlices(const EventColumns& b, Rows rows,
                                   const absl::Duration* joined_delay,
                                   bool late) {
  std::vector<size_t> attribute_columns, feature_columns;
  std::vector<std::pair<WindowAccumulator*, std::vector<uint32_t>>> targets;
  absl::flat_hash_map<WindowAccumulator*, size_t> target_of;
  for (size_t k = 0; k < slices_.size(); ++k) {
    SliceKey& slice = slices_[k];
    const std::string& key = config_->slice_keys[k];
    attribute_columns.clear();
    feature_columns.clear();
    for (size_t a = 0; a < b.attribute_count(); ++a) {
      if (b.attribute(a).name == key) attribute_columns.push_back(a);
    }
    for (size_t c = 0; c < b.feature_count(); ++c) {
      if (b.feature(c).name == key) feature_columns.push_back(c);
    }
    targets.clear();
    target_of.clear();
    for (uint32_t r : rows) {
      // The row's value: an attribute of the key's name, else a
      // categorical feature of that name.
      const std::string* value = nullptr;
      for (size_t a : attribute_columns) {
        const EventColumns::Attribute& col = b.attribute(a);
        if (col.group[r] != EventColumns::Attribute::kAbsent) {
          value = &col.groups[col.group[r]];
          break;
        }
      }
      for (size_t c = 0; value == nullptr && c < feature_columns.size(); ++c) {
        const EventColumns::Feature& col = b.feature(feature_columns[c]);
        if (col.cell[r] == Cell::kCategory) {
          value = &col.categories[col.category[r]];
        }
      }
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
      WindowAccumulator* child = it->second.get();
      auto [t, added] = target_of.emplace(child, targets.size());
      if (added) targets.emplace_back(child, std::vector<uint32_t>());
      targets[t->second].second.push_back(r);
    }
    for (auto& [child, child_rows] : targets) {
      if (joined_delay == nullptr) {
        child->AddRows(b, child_rows);
      } else {
        child->AddJoinedRows(b, child_rows, *joined_delay, late);
      }
    }
  }
}

void WindowAccumulator::AddJoinedLabel(const Event& joined,
                                       absl::Duration delay, bool late) {
  const EventColumns& b = Single(joined);
  const uint32_t row = 0;
  AddJoinedRows(b, absl::MakeConstSpan(&row, 1), delay, late);
}

void WindowAccumulator::AddJoinedRows(const EventColumns& b, Rows rows,
                                      absl::Duration delay, bool late) {
  labels_matched_ += rows.size();
  if (late) labels_late_ += rows.size();
  for (size_t i = 0; i < rows.size(); ++i) {
    label_delay_.Add(absl::ToDoubleSeconds(delay));
  }
  const std::vector<RowClasses> classes = ClassifyRows(b, rows);
  FoldPerformance(b, rows, classes);
  FoldFairness(b, rows, classes, /*selection=*/false, /*outcome=*/true);
  if (!slices_.empty()) FoldSlices(b, rows, &delay, late);
}

}  // namespace aims

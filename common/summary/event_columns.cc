#include "common/summary/event_columns.h"

#include <algorithm>
#include <cstring>

namespace aims {
namespace {

// a == b for names, which are short: two overlapping 8-byte (or 4-byte)
// loads instead of a call to memcmp, which was 8 % of the update path when
// each event's names were checked against the last event's.
bool SameName(absl::string_view a, absl::string_view b) {
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

size_t Filled(const EventColumns::Feature& f) { return f.cell.size(); }
size_t Filled(const EventColumns::Attribute& a) { return a.group.size(); }

void Reset(uint32_t row, size_t reserve, absl::string_view name,
           EventColumns::Feature* f) {
  f->cell.reserve(reserve);
  f->number.reserve(reserve);
  f->category.reserve(reserve);
  f->position.reserve(reserve);
  f->name.assign(name.data(), name.size());
  f->first_row = row;
  f->cell.assign(row, EventColumns::Cell::kAbsent);
  f->number.assign(row, 0);
  f->category.assign(row, 0);
  f->position.assign(row, 0);
  f->categories.Clear();
  f->numbers = 0;
  f->next_same_name = 0;
  f->repeated = false;
}

void Reset(uint32_t row, size_t reserve, absl::string_view name,
           EventColumns::Attribute* a) {
  a->group.reserve(reserve);
  a->name.assign(name.data(), name.size());
  a->first_row = row;
  a->group.assign(row, EventColumns::Attribute::kAbsent);
  a->groups.Clear();
  a->next_same_name = 0;
  a->repeated = false;
}

// The column of `columns` for the `position`-th item named `name` of row
// `row`: the column at `position` when its name matches, is the name's only
// column and has no value for the row yet; else the first of that name
// without one (so the k-th occurrence in a row goes to the k-th column);
// else a new column (reusing the buffers of one beyond `*count`), which
// sets `*repeated` when the name had one already.
template <typename Column>
Column* ColumnFor(uint32_t row, size_t reserve, size_t position,
                  absl::string_view name, std::vector<Column>* columns,
                  size_t* count,
                  absl::flat_hash_map<std::string, uint32_t>* index,
                  bool* repeated) {
  if (position < *count) {
    Column& c = (*columns)[position];
    if (!c.repeated && Filled(c) == row && SameName(c.name, name)) return &c;
  }
  uint32_t first = 0, last = 0;
  bool named = false;
  if (auto it = index->find(name); it != index->end()) {
    named = true;
    first = it->second;
    for (uint32_t i = first;; i = (*columns)[i].next_same_name) {
      if (Filled((*columns)[i]) == row) return &(*columns)[i];
      last = i;
      if ((*columns)[i].next_same_name == 0) break;
    }
  }
  const uint32_t i = static_cast<uint32_t>((*count)++);
  if (i == columns->size()) columns->emplace_back();
  Reset(row, reserve, name, &(*columns)[i]);
  if (!named) {
    index->emplace(std::string(name), i);
    return &(*columns)[i];
  }
  (*columns)[last].next_same_name = i;
  for (uint32_t k = first;; k = (*columns)[k].next_same_name) {
    (*columns)[k].repeated = true;
    if ((*columns)[k].next_same_name == 0) break;
  }
  *repeated = true;
  return &(*columns)[i];
}

}  // namespace

uint32_t CodeDictionary::Code(absl::string_view s) {
  if (last_ < strings_.size() && SameName(strings_[last_], s)) return last_;
  if (strings_.size() <= kScanned) {
    // Few values (classes, groups, small categories): a scan beats a hash.
    for (uint32_t i = 0; i < strings_.size(); ++i) {
      if (SameName(strings_[i], s)) return last_ = i;
    }
  } else if (auto it = codes_.find(s); it != codes_.end()) {
    return last_ = it->second;
  }
  const uint32_t code = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  if (strings_.size() == kScanned + 1) {
    for (uint32_t i = 0; i < strings_.size(); ++i)
      codes_.emplace(strings_[i], i);
  } else if (strings_.size() > kScanned + 1) {
    codes_.emplace(strings_.back(), code);
  }
  return last_ = code;
}

void CodeDictionary::Clear() {
  strings_.clear();
  codes_.clear();
  last_ = UINT32_MAX;
}

uint32_t EventColumns::ClassCode(const Outcome& o, Outcomes* out) {
  if (o.kind == Outcome::Kind::kClass) return out->classes.Code(o.class_label);
  if (o.kind != Outcome::Kind::kNumber) return 0;
  if (o.number >= 0 && o.number < 16 &&
      o.number == static_cast<double>(static_cast<int>(o.number))) {
    uint32_t& code = out->small_integer_code[static_cast<int>(o.number)];
    if (code == UINT32_MAX) code = out->classes.Code(o.AsClass());
    return code;
  }
  if (out->last_number_code != UINT32_MAX && o.number == out->last_number) {
    return out->last_number_code;
  }
  out->last_number = o.number;
  out->last_number_code = out->classes.Code(o.AsClass());
  return out->last_number_code;
}

void EventColumns::AppendOutcome(const Outcome& o, Outcomes* out) {
  out->kind.push_back(o.kind);
  out->number.push_back(o.kind == Outcome::Kind::kNumber ? o.number : 0);
  out->class_code.push_back(ClassCode(o, out));
}

EventColumns::Feature* EventColumns::FeatureFor(size_t position,
                                                const std::string& name) {
  return ColumnFor(static_cast<uint32_t>(rows_), reserved_rows_, position, name,
                   &features_, &feature_count_, &feature_index_,
                   &repeated_names_);
}

EventColumns::Attribute* EventColumns::AttributeFor(size_t position,
                                                    const std::string& name) {
  return ColumnFor(static_cast<uint32_t>(rows_), reserved_rows_, position, name,
                   &attributes_, &attribute_count_, &attribute_index_,
                   &repeated_names_);
}

bool EventColumns::NeedsRowOrder() const {
  if (repeated_names_) return true;
  for (size_t c = 0; c < feature_count_; ++c) {
    if (features_[c].name == kPredictionFeature) return true;
  }
  return false;
}

void EventColumns::Reserve(size_t rows) {
  reserved_rows_ = rows;
  for (Outcomes* o : {&predictions_, &labels_}) {
    o->kind.reserve(rows);
    o->number.reserve(rows);
    o->class_code.reserve(rows);
  }
  flags_.reserve(rows);
  score_.reserve(rows);
  latency_.reserve(rows);
  probability_begin_.reserve(rows + 1);
}

void EventColumns::Append(const Event& event) {
  for (size_t i = 0; i < event.features.size(); ++i) {
    const auto& [name, value] = event.features[i];
    Feature* f = FeatureFor(i, name);
    f->position.push_back(static_cast<uint32_t>(i));
    switch (value.kind) {
      case FeatureValue::Kind::kNumber:
        f->cell.push_back(Cell::kNumber);
        f->number.push_back(value.number);
        f->category.push_back(0);
        ++f->numbers;
        break;
      case FeatureValue::Kind::kCategory:
        f->cell.push_back(Cell::kCategory);
        f->number.push_back(0);
        f->category.push_back(f->categories.Code(value.category));
        break;
      case FeatureValue::Kind::kMissing:
        f->cell.push_back(Cell::kNull);
        f->number.push_back(0);
        f->category.push_back(0);
        break;
    }
  }
  for (size_t i = 0; i < event.attributes.size(); ++i) {
    const auto& [name, group] = event.attributes[i];
    Attribute* a = AttributeFor(i, name);
    a->group.push_back(a->groups.Code(group));
  }
  ++rows_;
  // Columns the event did not list.
  for (size_t c = 0; c < feature_count_; ++c) {
    Feature& f = features_[c];
    if (f.cell.size() < rows_) {
      f.cell.push_back(Cell::kAbsent);
      f.number.push_back(0);
      f.category.push_back(0);
      f.position.push_back(0);
    }
  }
  for (size_t c = 0; c < attribute_count_; ++c) {
    Attribute& a = attributes_[c];
    if (a.group.size() < rows_) a.group.push_back(Attribute::kAbsent);
  }
  AppendOutcome(event.prediction, &predictions_);
  AppendOutcome(event.label, &labels_);
  uint8_t flags = 0;
  if (event.label.present() || !event.prediction_id.empty()) {
    flags |= kLabelable;
  }
  if (event.error) flags |= kError;
  if (event.score) flags |= kHasScore;
  if (event.latency_seconds) flags |= kHasLatency;
  flags_.push_back(flags);
  score_.push_back(event.score.value_or(0));
  latency_.push_back(event.latency_seconds.value_or(0));
  probabilities_.insert(probabilities_.end(), event.probabilities.begin(),
                        event.probabilities.end());
  probability_begin_.push_back(static_cast<uint32_t>(probabilities_.size()));
}

void EventColumns::Clear() {
  rows_ = 0;
  repeated_names_ = false;
  feature_count_ = 0;
  feature_index_.clear();
  attribute_count_ = 0;
  attribute_index_.clear();
  for (Outcomes* o : {&predictions_, &labels_}) {
    o->kind.clear();
    o->number.clear();
    o->class_code.clear();
    o->classes.Clear();
    o->ForgetNumbers();
  }
  flags_.clear();
  score_.clear();
  latency_.clear();
  probability_begin_.assign(1, 0);
  probabilities_.clear();
}

void EventColumns::SetRows(size_t rows) {
  Clear();
  rows_ = rows;
  for (Outcomes* o : {&predictions_, &labels_}) {
    o->kind.assign(rows, Outcome::Kind::kNone);
    o->number.assign(rows, 0);
    o->class_code.assign(rows, 0);
  }
  flags_.assign(rows, 0);
  score_.assign(rows, 0);
  latency_.assign(rows, 0);
  probability_begin_.assign(rows + 1, 0);
}

EventColumns::Feature* EventColumns::AddFeature(absl::string_view name) {
  Feature* f = ColumnFor(0, 0, feature_count_, name, &features_,
                         &feature_count_, &feature_index_, &repeated_names_);
  f->cell.assign(rows_, Cell::kAbsent);
  f->number.assign(rows_, 0);
  f->category.assign(rows_, 0);
  f->position.clear();
  return f;
}

EventColumns::Attribute* EventColumns::AddAttribute(absl::string_view name) {
  Attribute* a =
      ColumnFor(0, 0, attribute_count_, name, &attributes_, &attribute_count_,
                &attribute_index_, &repeated_names_);
  a->group.assign(rows_, Attribute::kAbsent);
  return a;
}

void EventColumns::SetScore(size_t row, double score) {
  score_[row] = score;
  flags_[row] |= kHasScore;
}

}  // namespace aims

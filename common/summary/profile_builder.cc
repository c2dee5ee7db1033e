#include "common/summary/profile_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/hash.h"
#include "common/base/time_util.h"
#include "common/summary/numeric_bins.h"
#include "common/summary/validation.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

// Puts at each rank of `ranks` (increasing, within [from, to)) the element
// that a sort would put there: the middle rank first, then each side
// recursively, O(n log k) for k ranks instead of a selection per rank over
// the rest of the values.
void SelectRanks(std::vector<double>& values, size_t from, size_t to,
                 const size_t* ranks, size_t k) {
  if (k == 0 || to - from < 2) return;
  const size_t mid = k / 2;
  const auto begin = values.begin();
  std::nth_element(begin + from, begin + ranks[mid], begin + to);
  SelectRanks(values, from, ranks[mid], ranks, mid);
  SelectRanks(values, ranks[mid] + 1, to, ranks + mid + 1, k - mid - 1);
}

// The elements of `ranks` (increasing) that a sort of the finite `values`
// would put there, in O(n) passes without sorting: the values are counted
// into equal-width buckets between `lo` and `hi` (a monotone map, so the
// element of a rank lies in the bucket where the running count passes
// it), only the buckets that hold a rank are gathered, and SelectRanks
// finds each rank there. Values crowded into a few buckets (an outlier
// stretching the range) make the gathered part larger, never the answer
// different.
template <typename Values>
std::vector<double> ValuesAtRanks(const Values& values, double lo, double hi,
                                  const std::vector<size_t>& ranks) {
  if (!(hi > lo)) return std::vector<double>(ranks.size(), lo);
  std::vector<double> out;
  out.reserve(ranks.size());
  constexpr size_t kBuckets = 4096;
  const double scale = kBuckets / (hi - lo);
  if (!std::isfinite(scale) || !std::isfinite(hi - lo)) {
    std::vector<double> copy;
    copy.reserve(values.size());
    values.ForEachChunk(
        [&](const double* v, size_t n) { copy.insert(copy.end(), v, v + n); });
    std::vector<size_t> r = ranks;
    SelectRanks(copy, 0, copy.size(), r.data(), r.size());
    for (size_t rank : ranks) out.push_back(copy[rank]);
    return out;
  }
  auto bucket = [lo, scale](double v) {
    return std::min(kBuckets - 1, static_cast<size_t>((v - lo) * scale));
  };
  std::vector<uint64_t> counts(kBuckets, 0);
  values.ForEachChunk([&](const double* v, size_t n) {
    for (size_t i = 0; i < n; ++i) ++counts[bucket(v[i])];
  });
  // For each rank: its bucket and its rank within the bucket.
  constexpr uint16_t kNone = 0xffff;
  std::vector<uint16_t> slot(kBuckets, kNone);
  std::vector<std::vector<double>> gathered;
  std::vector<std::vector<size_t>> local_ranks;
  std::vector<std::pair<uint16_t, size_t>> where;  // (slot, local rank)
  uint64_t before = 0;
  size_t b = 0;
  for (size_t rank : ranks) {
    while (before + counts[b] <= rank) before += counts[b++];
    if (slot[b] == kNone) {
      slot[b] = static_cast<uint16_t>(gathered.size());
      gathered.emplace_back().reserve(counts[b]);
      local_ranks.emplace_back();
    }
    local_ranks[slot[b]].push_back(rank - before);
    where.emplace_back(slot[b], rank - before);
  }
  values.ForEachChunk([&](const double* v, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t s = slot[bucket(v[i])];
      if (s != kNone) gathered[s].push_back(v[i]);
    }
  });
  for (size_t s = 0; s < gathered.size(); ++s) {
    SelectRanks(gathered[s], 0, gathered[s].size(), local_ranks[s].data(),
                local_ranks[s].size());
  }
  for (const auto& [s, local] : where) out.push_back(gathered[s][local]);
  return out;
}

// The lower-rank quantiles i/bins of values in [lo, hi]: each is the
// element of rank floor(q * (n - 1)).
template <typename Values>
std::vector<double> QuantileEdges(const Values& values, double lo, double hi,
                                  int bins) {
  const size_t n = values.size();
  std::vector<size_t> ranks;
  for (int i = 0; i < bins; ++i) {
    const double q = static_cast<double>(i) / bins;
    const size_t rank = static_cast<size_t>(q * (n - 1));
    if (ranks.empty() || rank > ranks.back()) ranks.push_back(rank);
  }
  std::vector<double> edges;
  for (double v : ValuesAtRanks(values, lo, hi, ranks)) {
    if (edges.empty() || v > edges.back()) edges.push_back(v);
  }
  const double above_max =
      std::nextafter(hi, std::numeric_limits<double>::infinity());
  if (above_max > edges.back()) edges.push_back(above_max);
  return edges;
}

}  // namespace

void ProfileBuilder::Numbers::NewChunk() {
  capacity_ =
      chunks_.empty() ? kFirstChunk : std::min(2 * capacity_, kLargestChunk);
  chunks_.push_back(
      {std::make_unique_for_overwrite<double[]>(capacity_), capacity_});
  last_ = chunks_.back().values.get();
  fill_ = 0;
}

ProfileBuilder::ProfileBuilder(ProfileBuildOptions options)
    : options_(std::move(options)) {}

void ProfileBuilder::AddCategory(FeatureValues* f, const std::string& category,
                                 uint64_t n) {
  auto it = f->categories.find(category);
  if (it != f->categories.end()) {
    it->second += n;
  } else if (f->categories.size() < options_.max_categories_per_feature) {
    f->categories.emplace(category, n);
  } else {
    f->other += n;
    categories_overflowed_ += n;
  }
}

void ProfileBuilder::Add(const Event& event) {
  if (single_ == nullptr) single_ = std::make_unique<EventColumns>();
  single_->Clear();
  single_->Append(event);
  AddColumns(*single_);
}

void ProfileBuilder::AddColumns(const EventColumns& b) {
  size_t rows = b.rows();
  if (rows_ + rows > options_.max_rows) {
    rows = options_.max_rows - std::min(rows_, options_.max_rows);
    truncated_ = true;
  }
  if (rows == 0) return;
  rows_ += rows;
  if (!b.NeedsRowOrder()) return AddRows(b, 0, rows);
  for (size_t r = 0; r < rows; ++r) AddRows(b, r, r + 1);
}

void ProfileBuilder::AddRows(const EventColumns& b, size_t begin, size_t end) {
  using Cell = EventColumns::Cell;
  if (layout_.size() < b.feature_count()) {
    layout_.resize(b.feature_count(), {nullptr, nullptr});
  }
  for (size_t c = 0; c < b.feature_count(); ++c) {
    const EventColumns::Feature& column = b.feature(c);
    if (std::all_of(column.cell.begin() + begin, column.cell.begin() + end,
                    [](Cell cell) { return cell == Cell::kAbsent; })) {
      continue;  // not listed by these rows
    }
    auto& [cached_name, values] = layout_[c];
    if (cached_name == nullptr || *cached_name != column.name) {
      auto it = features_.try_emplace(column.name).first;
      cached_name = &it->first;
      values = &it->second;
    }
    AddColumn(values, column, begin, end);
  }
  AddPredictions(b, begin, end);
  AddClassesAndGroups(b, begin, end);
}

void ProfileBuilder::AddColumn(FeatureValues* f,
                               const EventColumns::Feature& column,
                               size_t begin, size_t end) {
  using Cell = EventColumns::Cell;
  if (column.numbers == column.cell.size() && begin == 0 &&
      end == column.cell.size()) {
    // Every row a number: no cell to look at; the non-finite are left out.
    for (size_t r = 0; r < end; ++r) {
      if (std::isfinite(column.number[r]))
        f->numbers.push_back(column.number[r]);
    }
    return;
  }
  code_counts_.assign(column.categories.size(), 0);
  for (size_t r = begin; r < end; ++r) {
    if (column.cell[r] == Cell::kNumber) {
      if (std::isfinite(column.number[r]))
        f->numbers.push_back(column.number[r]);
    } else if (column.cell[r] == Cell::kCategory) {
      ++code_counts_[column.category[r]];
    }
  }
  // Codes are in the order of first sight, as max_categories_per_feature
  // counts them.
  for (uint32_t code = 0; code < code_counts_.size(); ++code) {
    if (code_counts_[code] > 0) {
      AddCategory(f, column.categories[code], code_counts_[code]);
    }
  }
}

// The prediction is profiled like a feature, as the accumulator sees it (the
// feature exists even when no event has a prediction).
void ProfileBuilder::AddPredictions(const EventColumns& b, size_t begin,
                                    size_t end) {
  if (prediction_ == nullptr) {
    prediction_ = &features_[std::string(kPredictionFeature)];
  }
  const EventColumns::Outcomes& p = b.predictions();
  code_counts_.assign(p.classes.size(), 0);
  for (size_t r = begin; r < end; ++r) {
    if (options_.task == v1::TASK_TYPE_BINARY &&
        (b.flags(r) & EventColumns::kHasScore)) {
      if (std::isfinite(b.score(r))) prediction_->numbers.push_back(b.score(r));
    } else if (options_.task == v1::TASK_TYPE_REGRESSION &&
               p.kind[r] == Outcome::Kind::kNumber) {
      if (std::isfinite(p.number[r]))
        prediction_->numbers.push_back(p.number[r]);
    } else if (p.kind[r] != Outcome::Kind::kNone) {
      ++code_counts_[p.class_code[r]];
    }
  }
  for (uint32_t code = 0; code < code_counts_.size(); ++code) {
    if (code_counts_[code] > 0) {
      AddCategory(prediction_, p.classes[code], code_counts_[code]);
    }
  }
}

void ProfileBuilder::AddClassesAndGroups(const EventColumns& b, size_t begin,
                                         size_t end) {
  const EventColumns::Outcomes& p = b.predictions();
  const EventColumns::Outcomes& l = b.labels();
  if (options_.task != v1::TASK_TYPE_REGRESSION) {
    for (const EventColumns::Outcomes* o : {&l, &p}) {
      code_counts_.assign(o->classes.size(), 0);
      for (size_t r = begin; r < end; ++r) {
        if (o->kind[r] != Outcome::Kind::kNone)
          ++code_counts_[o->class_code[r]];
      }
      for (uint32_t code = 0; code < code_counts_.size(); ++code) {
        if (code_counts_[code] > 0)
          classes_[o->classes[code]] += code_counts_[code];
      }
    }
  }
  std::vector<GroupStats> stats;
  if (attribute_layout_.size() < b.attribute_count()) {
    attribute_layout_.resize(b.attribute_count(), {nullptr, nullptr});
  }
  for (size_t a = 0; a < b.attribute_count(); ++a) {
    const EventColumns::Attribute& column = b.attribute(a);
    if (std::all_of(
            column.group.begin() + begin, column.group.begin() + end,
            [](uint32_t g) { return g == EventColumns::Attribute::kAbsent; })) {
      continue;  // not listed by these rows
    }
    auto& [cached_name, groups] = attribute_layout_[a];
    if (cached_name == nullptr || *cached_name != column.name) {
      auto it = groups_.try_emplace(column.name).first;
      cached_name = &it->first;
      groups = &it->second;
    }
    stats.assign(column.groups.size(), GroupStats());
    for (size_t r = begin; r < end; ++r) {
      if (column.group[r] == EventColumns::Attribute::kAbsent) continue;
      GroupStats& g = stats[column.group[r]];
      ++g.n;
      if (l.kind[r] == Outcome::Kind::kNone) continue;
      ++g.labelled;
      if (l.classes[l.class_code[r]] == options_.positive_class) ++g.positive;
    }
    for (uint32_t code = 0; code < stats.size(); ++code) {
      if (stats[code].n == 0) continue;
      GroupStats& g = (*groups)[column.groups[code]];
      g.n += stats[code].n;
      g.labelled += stats[code].labelled;
      g.positive += stats[code].positive;
    }
  }
}

absl::StatusOr<v1::ReferenceProfile> ProfileBuilder::Build(
    const v1::ModelRef& model, v1::ProfileSource source,
    const std::string& description) const {
  if (rows_ == 0)
    return absl::InvalidArgumentError("profile: no reference rows");
  if (options_.numeric_bins < 2 || options_.numeric_bins > 1000) {
    return absl::InvalidArgumentError("bins: must be 2..1000");
  }
  if (options_.top_k < 1 || options_.top_k > 1000) {
    return absl::InvalidArgumentError("top_k: must be 1..1000");
  }
  if (options_.score_bins < 2 || options_.score_bins > 1000) {
    return absl::InvalidArgumentError("score_bins: must be 2..1000");
  }
  v1::ReferenceProfile profile;
  *profile.mutable_model() = model;
  profile.set_task(options_.task);
  profile.set_source(source);
  profile.set_row_count(rows_);
  profile.set_description(description);
  *profile.mutable_created_at() = ToProto(absl::Now());
  if (options_.task != v1::TASK_TYPE_REGRESSION) {
    for (const auto& [cls, n] : classes_) profile.add_classes(cls);
    profile.set_positive_class(options_.positive_class);
  }
  if (options_.task == v1::TASK_TYPE_BINARY) {
    for (int i = 1; i < options_.score_bins; ++i) {
      profile.add_score_edges(static_cast<double>(i) / options_.score_bins);
    }
  }
  for (const auto& [name, values] : features_) {
    v1::FeatureProfile* f = profile.add_features();
    f->set_name(name);
    uint64_t numeric = values.numbers.size();
    uint64_t text = values.other;
    for (const auto& [cat, n] : values.categories) text += n;
    if (numeric > 0 && numeric >= text) {
      f->set_kind(v1::FeatureProfile::KIND_NUMERIC);
      double sum = 0, sum_sq = 0;
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      values.numbers.ForEachChunk([&](const double* v, size_t n) {
        for (size_t i = 0; i < n; ++i) {
          sum += v[i];
          sum_sq += v[i] * v[i];
          lo = std::min(lo, v[i]);
          hi = std::max(hi, v[i]);
        }
      });
      std::vector<double> edges =
          QuantileEdges(values.numbers, lo, hi, options_.numeric_bins);
      for (double e : edges) f->add_edges(e);
      std::vector<uint64_t> counts(edges.size() + 1, 0);
      values.numbers.ForEachChunk([&](const double* v, size_t n) {
        CountBins(edges.data(), edges.size(), v, n, counts.data());
      });
      f->mutable_reference_counts()->mutable_counts()->Add(counts.begin(),
                                                           counts.end());
      f->set_min(lo);
      f->set_max(hi);
      const double n = static_cast<double>(numeric);
      f->set_mean(sum / n);
      f->set_stddev(
          n > 1 ? std::sqrt(std::max(0.0, (sum_sq - sum * sum / n) / (n - 1)))
                : 0.0);
    } else {
      f->set_kind(v1::FeatureProfile::KIND_CATEGORICAL);
      std::vector<std::pair<std::string, uint64_t>> ranked(
          values.categories.begin(), values.categories.end());
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      uint64_t other = values.other;
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (static_cast<int>(i) < options_.top_k) {
          f->add_categories(ranked[i].first);
          f->mutable_reference_counts()->add_counts(ranked[i].second);
        } else {
          other += ranked[i].second;
        }
      }
      f->mutable_reference_counts()->add_counts(other);
    }
  }
  for (const auto& [attribute, groups] : groups_) {
    for (const auto& [group, g] : groups) {
      v1::GroupProfile* gp = profile.add_groups();
      gp->set_attribute(attribute);
      gp->set_group(group);
      gp->set_n(g.n);
      gp->set_base_rate(g.labelled > 0
                            ? static_cast<double>(g.positive) / g.labelled
                            : std::nan(""));
    }
  }
  profile.set_profile_id(ComputeProfileId(profile));
  return profile;
}

std::string ComputeProfileId(const v1::ReferenceProfile& profile) {
  v1::ReferenceProfile copy = profile;
  copy.clear_profile_id();
  copy.clear_stored_at();
  std::string bytes;
  copy.SerializeToString(&bytes);
  return Sha256Hex(bytes);
}

bool StoredLater(const v1::ReferenceProfile& a, const v1::ReferenceProfile& b) {
  if (a.has_stored_at() && b.has_stored_at())
    return FromProto(a.stored_at()) > FromProto(b.stored_at());
  return FromProto(a.created_at()) > FromProto(b.created_at());
}

absl::Status ValidateProfile(const v1::ReferenceProfile& profile) {
  auto invalid = [](std::string field, std::string what) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
  };
  if (absl::Status s = ValidateModelRef(profile.model(), "profile.model");
      !s.ok()) {
    return s;
  }
  if (profile.features_size() > 2000) {
    return invalid("profile.features", absl::StrCat(profile.features_size(),
                                                    " features, limit 2000"));
  }
  auto increasing = [](const google::protobuf::RepeatedField<double>& edges) {
    for (int i = 0; i < edges.size(); ++i) {
      if (!std::isfinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1])))
        return false;
    }
    return true;
  };
  if (!increasing(profile.score_edges()) ||
      profile.score_edges_size() > 10000) {
    return invalid("profile.score_edges",
                   "must be finite, strictly increasing, at most 10000");
  }
  for (int i = 0; i < profile.features_size(); ++i) {
    const v1::FeatureProfile& f = profile.features(i);
    const std::string field = absl::StrCat("profile.features[", i, "]");
    if (f.name().empty() || f.name().size() > 128) {
      return invalid(field + ".name", "must be 1..128 bytes");
    }
    if (i > 0 && !(profile.features(i - 1).name() < f.name())) {
      return invalid(field + ".name", "features must be sorted and unique");
    }
    size_t bins = 0;
    if (f.kind() == v1::FeatureProfile::KIND_NUMERIC) {
      if (f.edges_size() == 0 || f.edges_size() > 10000 ||
          !increasing(f.edges())) {
        return invalid(field + ".edges",
                       "1..10000 finite, strictly increasing edges required");
      }
      bins = f.edges_size() + 1;
    } else if (f.kind() == v1::FeatureProfile::KIND_CATEGORICAL) {
      if (f.categories_size() > 10000) {
        return invalid(
            field + ".categories",
            absl::StrCat(f.categories_size(), " categories, limit 10000"));
      }
      bins = f.categories_size() + 1;
    } else {
      return invalid(field + ".kind", "must be numeric or categorical");
    }
    if (f.reference_counts().counts_size() != 0 &&
        static_cast<size_t>(f.reference_counts().counts_size()) != bins) {
      return invalid(field + ".reference_counts",
                     absl::StrCat(f.reference_counts().counts_size(),
                                  " counts for ", bins, " bins"));
    }
  }
  return absl::OkStatus();
}

}  // namespace aims

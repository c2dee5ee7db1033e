#include "common/summary/profile_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/hash.h"
#include "common/base/time_util.h"
#include "common/summary/validation.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

std::vector<double> QuantileEdges(std::vector<double> values, int bins) {
  // The lower-rank quantiles i/bins: each is the element of rank
  // floor(q * (n - 1)), found by selection on the part right of the
  // previous one instead of sorting every value.
  std::vector<double> edges;
  const size_t n = values.size();
  const double max = *std::max_element(values.begin(), values.end());
  auto from = values.begin();
  for (int i = 0; i < bins; ++i) {
    const double q = static_cast<double>(i) / bins;
    const auto at = values.begin() + static_cast<size_t>(q * (n - 1));
    if (at >= from) {
      std::nth_element(from, at, values.end());
      from = at + 1;
    }
    const double edge = *at;
    if (edges.empty() || edge > edges.back()) edges.push_back(edge);
  }
  const double above_max =
      std::nextafter(max, std::numeric_limits<double>::infinity());
  if (above_max > edges.back()) edges.push_back(above_max);
  return edges;
}

// The number of edges <= v (the bin of v with under- and overflow bins);
// branch-free for the few edges of a profile.
size_t BinOf(const std::vector<double>& edges, double v) {
  if (edges.size() > 64) {
    return std::upper_bound(edges.begin(), edges.end(), v) - edges.begin();
  }
  size_t bin = 0;
  for (double e : edges) bin += e <= v;
  return bin;
}

}  // namespace

ProfileBuilder::ProfileBuilder(ProfileBuildOptions options)
    : options_(std::move(options)) {}

void ProfileBuilder::AddValue(FeatureValues* f, const FeatureValue& value) {
  if (value.kind == FeatureValue::Kind::kNumber) {
    if (std::isfinite(value.number)) f->numbers.push_back(value.number);
  } else if (value.kind == FeatureValue::Kind::kCategory) {
    auto it = f->categories.find(value.category);
    if (it != f->categories.end()) {
      ++it->second;
    } else if (f->categories.size() < options_.max_categories_per_feature) {
      f->categories.emplace(value.category, 1);
    } else {
      ++f->other;
      ++categories_overflowed_;
    }
  }
}

void ProfileBuilder::Add(const Event& event) {
  if (rows_ >= options_.max_rows) {
    truncated_ = true;
    return;
  }
  ++rows_;
  const size_t n = event.features.size();
  if (layout_.size() < n) layout_.resize(n, {nullptr, nullptr});
  for (size_t i = 0; i < n; ++i) {
    const auto& [name, value] = event.features[i];
    auto& [cached_name, values] = layout_[i];
    if (cached_name == nullptr || *cached_name != name) {
      auto it = features_.try_emplace(name).first;
      cached_name = &it->first;
      values = &it->second;
    }
    AddValue(values, value);
  }
  // The prediction is profiled like a feature, as the accumulator sees it
  // (the feature exists even when no event has a prediction).
  if (prediction_ == nullptr) {
    prediction_ = &features_[std::string(kPredictionFeature)];
  }
  FeatureValue prediction;
  if (options_.task == v1::TASK_TYPE_BINARY && event.score) {
    prediction = {FeatureValue::Kind::kNumber, *event.score, ""};
  } else if (options_.task == v1::TASK_TYPE_REGRESSION &&
             event.prediction.kind == Outcome::Kind::kNumber) {
    prediction = {FeatureValue::Kind::kNumber, event.prediction.number, ""};
  } else if (event.prediction.present()) {
    prediction = {FeatureValue::Kind::kCategory, 0, event.prediction.AsClass()};
  }
  AddValue(prediction_, prediction);
  const bool labelled = event.label.present();
  const std::string label = labelled ? event.label.AsClass() : std::string();
  if (options_.task != v1::TASK_TYPE_REGRESSION) {
    if (labelled) ++classes_[label];
    if (event.prediction.present()) ++classes_[event.prediction.AsClass()];
  }
  const bool positive = labelled && label == options_.positive_class;
  const size_t a = event.attributes.size();
  if (attribute_layout_.size() < a)
    attribute_layout_.resize(a, {nullptr, nullptr});
  for (size_t i = 0; i < a; ++i) {
    const auto& [attribute, group] = event.attributes[i];
    auto& [cached_name, groups] = attribute_layout_[i];
    if (cached_name == nullptr || *cached_name != attribute) {
      auto it = groups_.try_emplace(attribute).first;
      cached_name = &it->first;
      groups = &it->second;
    }
    GroupStats& g = (*groups)[group];
    ++g.n;
    if (labelled) ++g.labelled;
    if (positive) ++g.positive;
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
      std::vector<double> edges =
          QuantileEdges(values.numbers, options_.numeric_bins);
      for (double e : edges) f->add_edges(e);
      std::vector<uint64_t> counts(edges.size() + 1, 0);
      double sum = 0, sum_sq = 0;
      for (double v : values.numbers) {
        ++counts[BinOf(edges, v)];
        sum += v;
        sum_sq += v * v;
      }
      f->mutable_reference_counts()->mutable_counts()->Add(counts.begin(),
                                                           counts.end());
      const auto [lo, hi] =
          std::minmax_element(values.numbers.begin(), values.numbers.end());
      f->set_min(*lo);
      f->set_max(*hi);
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

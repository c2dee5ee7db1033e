// The verdict simulator's traffic: population, reference profile, shifts to
// a target PSI and window summaries (see verdict_simulator.h). The driving
// of the evaluator is in verdict_simulator_run.cc.
#include "tests/bench/verdict_simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/time_util.h"
#include "common/summary/metric_engine.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"

namespace aims::bench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double NormalPdf(double z) {
  return std::isinf(z) ? 0.0 : std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
}

// The standardized bounds [lo, hi) of each bin of numeric `edges` (with
// under- and overflow bins) for normal(mean, stddev).
std::vector<std::pair<double, double>> StandardBounds(
    const google::protobuf::RepeatedField<double>& edges, double mean,
    double stddev) {
  std::vector<std::pair<double, double>> bounds;
  double lo = -kInf;
  for (double e : edges) {
    const double z = (e - mean) / stddev;
    bounds.emplace_back(lo, z);
    lo = z;
  }
  bounds.emplace_back(lo, kInf);
  return bounds;
}

// The bin of each of `feature`'s categories in the categorical `profile`
// (its "other" bin when the profile does not list it).
std::vector<size_t> CategoryBins(const FeatureSpec& feature,
                                 const v1::FeatureProfile& profile) {
  std::vector<size_t> bins;
  for (const std::string& c : feature.categories) {
    size_t bin = profile.categories_size();
    for (int i = 0; i < profile.categories_size(); ++i) {
      if (profile.categories(i) == c) bin = i;
    }
    bins.push_back(bin);
  }
  return bins;
}

// Index of the first cdf entry above u (the last bin for u at the top).
size_t Sample(const std::vector<double>& cdf, double u) {
  size_t bin = 0;
  for (double c : cdf) bin += c <= u;
  return std::min(bin, cdf.size() - 1);
}

// Bisection for x in [lo, hi] with f(x) = target, f increasing.
template <typename F>
double Solve(F f, double lo, double hi, double target) {
  for (int i = 0; i < 200 && hi - lo > 1e-15 * std::max(1.0, hi); ++i) {
    const double mid = (lo + hi) / 2;
    (f(mid) < target ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

std::vector<FeatureSpec> DefaultFeatures() {
  std::vector<FeatureSpec> features;
  FeatureSpec income;
  income.name = "income";
  income.mean = 52000;
  income.stddev = 15000;
  features.push_back(income);
  for (int i = 1; i < 20; ++i) {
    FeatureSpec f;
    f.name = absl::StrFormat("num_%02d", i);
    f.mean = i;
    f.stddev = 1 + 0.25 * (i % 4);
    features.push_back(f);
  }
  for (int j = 0; j < 5; ++j) {
    FeatureSpec f;
    f.name = absl::StrCat("cat_", j);
    f.numeric = false;
    const int k = 3 + j;
    double total = 0;
    for (int c = 0; c < k; ++c) total += 1.0 / (c + 1);
    for (int c = 0; c < k; ++c) {
      f.categories.push_back(absl::StrCat("c", c));
      f.probabilities.push_back(1.0 / (c + 1) / total);
    }
    features.push_back(f);
  }
  return features;
}

double Rng::Uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Rng::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2 * Uniform() - 1;
    v = 2 * Uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double m = std::sqrt(-2 * std::log(s) / s);
  spare_ = v * m;
  has_spare_ = true;
  return u * m;
}

Event DrawEvent(const std::vector<FeatureSpec>& features, Rng* rng) {
  Event e;
  e.features.reserve(features.size());
  for (const FeatureSpec& f : features) {
    FeatureValue v;
    if (f.numeric) {
      v.kind = FeatureValue::Kind::kNumber;
      v.number = f.mean + f.stddev * rng->Normal();
    } else {
      v.kind = FeatureValue::Kind::kCategory;
      const double u = rng->Uniform();
      double cum = 0;
      size_t c = 0;
      for (; c + 1 < f.probabilities.size(); ++c) {
        cum += f.probabilities[c];
        if (u < cum) break;
      }
      v.category = f.categories[c];
    }
    e.features.emplace_back(f.name, std::move(v));
  }
  return e;
}

absl::StatusOr<v1::ReferenceProfile> BuildReferenceProfile(
    const std::vector<FeatureSpec>& features, int rows,
    const v1::ModelRef& model, Rng* rng) {
  ProfileBuilder builder{ProfileBuildOptions()};
  for (int i = 0; i < rows; ++i) builder.Add(DrawEvent(features, rng));
  absl::StatusOr<v1::ReferenceProfile> profile = builder.Build(
      model, v1::PROFILE_SOURCE_TRAINING_DATA, "verdict simulator reference");
  if (!profile.ok()) return profile;
  // The same bytes (and id) for the same seed.
  *profile->mutable_created_at() =
      ToProto(absl::FromUnixSeconds(1'700'000'000));
  profile->set_profile_id(ComputeProfileId(*profile));
  return profile;
}

std::vector<double> BinProbabilities(const FeatureSpec& feature,
                                     const v1::FeatureProfile& profile) {
  std::vector<double> p;
  if (feature.numeric) {
    for (const auto& [lo, hi] :
         StandardBounds(profile.edges(), feature.mean, feature.stddev)) {
      p.push_back(std::max(0.0, NormalCdf(hi) - NormalCdf(lo)));
    }
    return p;
  }
  p.assign(profile.categories_size() + 1, 0.0);
  const std::vector<size_t> bins = CategoryBins(feature, profile);
  for (size_t c = 0; c < bins.size(); ++c)
    p[bins[c]] += feature.probabilities[c];
  return p;
}

double PopulationPsi(const FeatureSpec& feature,
                     const v1::FeatureProfile& profile) {
  const std::vector<double> reference(
      profile.reference_counts().counts().begin(),
      profile.reference_counts().counts().end());
  return CompareHistograms(reference, BinProbabilities(feature, profile), {},
                           MetricOptions().psi_epsilon)
      .psi;
}

FeatureSpec ShiftedToPsi(const FeatureSpec& feature,
                         const v1::FeatureProfile& profile, double target_psi) {
  if (PopulationPsi(feature, profile) >= target_psi) return feature;
  if (feature.numeric) {
    auto shifted = [&](double k) {
      FeatureSpec f = feature;
      f.mean = feature.mean + k * feature.stddev;
      return f;
    };
    const double k =
        Solve([&](double k) { return PopulationPsi(shifted(k), profile); }, 0,
              10, target_psi);
    return shifted(k);
  }
  const auto most = std::max_element(feature.probabilities.begin(),
                                     feature.probabilities.end()) -
                    feature.probabilities.begin();
  const auto least = std::min_element(feature.probabilities.begin(),
                                      feature.probabilities.end()) -
                     feature.probabilities.begin();
  auto shifted = [&](double mass) {
    FeatureSpec f = feature;
    f.probabilities[most] -= mass;
    f.probabilities[least] += mass;
    return f;
  };
  const double mass =
      Solve([&](double m) { return PopulationPsi(shifted(m), profile); }, 0,
            feature.probabilities[most], target_psi);
  return shifted(mass);
}

WindowSynthesizer::WindowSynthesizer(
    std::shared_ptr<const v1::ReferenceProfile> profile,
    std::vector<FeatureSpec> features)
    : profile_(std::move(profile)), features_(std::move(features)) {
  for (const FeatureSpec& f : features_) {
    Bins b;
    for (const v1::FeatureProfile& fp : profile_->features()) {
      if (fp.name() == f.name) b.profile = &fp;
    }
    const std::vector<double> p = BinProbabilities(f, *b.profile);
    double cum = 0;
    for (double x : p) b.cdf.push_back(cum += x);
    if (f.numeric) {
      for (const auto& [lo, hi] :
           StandardBounds(b.profile->edges(), f.mean, f.stddev)) {
        const double mass = NormalCdf(hi) - NormalCdf(lo);
        double ez = std::isinf(lo) ? hi : std::isinf(hi) ? lo : (lo + hi) / 2;
        double ez2 = ez * ez;
        if (mass > 1e-300) {
          ez = (NormalPdf(lo) - NormalPdf(hi)) / mass;
          const double lo_term = std::isinf(lo) ? 0 : lo * NormalPdf(lo);
          const double hi_term = std::isinf(hi) ? 0 : hi * NormalPdf(hi);
          ez2 = 1 + (lo_term - hi_term) / mass;
        }
        b.mean.push_back(f.mean + f.stddev * ez);
        b.mean_square.push_back(f.mean * f.mean + 2 * f.mean * f.stddev * ez +
                                f.stddev * f.stddev * ez2);
      }
    } else {
      b.category_bin = CategoryBins(f, *b.profile);
    }
    bins_.push_back(std::move(b));
  }
}

v1::WindowSummary WindowSynthesizer::Make(WindowSource source, int events,
                                          Rng* rng) const {
  return source == WindowSource::kDirect ? Direct(events, rng)
                                         : Folded(events, rng);
}

v1::WindowSummary WindowSynthesizer::Direct(int events, Rng* rng) const {
  std::vector<std::vector<uint64_t>> counts(bins_.size());
  for (size_t f = 0; f < bins_.size(); ++f) {
    counts[f].assign(bins_[f].cdf.size(), 0);
    for (int i = 0; i < events; ++i)
      ++counts[f][Sample(bins_[f].cdf, rng->Uniform())];
  }
  return FromBinCounts(counts, events);
}

v1::WindowSummary WindowSynthesizer::Folded(int events, Rng* rng) const {
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile_;
  WindowAccumulator acc(config);
  for (int i = 0; i < events; ++i) acc.Add(DrawEvent(features_, rng));
  return acc.Build();
}

std::vector<std::vector<uint64_t>> WindowSynthesizer::BinCountsOf(
    const std::vector<Event>& events) const {
  std::vector<std::vector<uint64_t>> counts(bins_.size());
  for (size_t f = 0; f < bins_.size(); ++f) {
    counts[f].assign(bins_[f].cdf.size(), 0);
    const v1::FeatureProfile& fp = *bins_[f].profile;
    for (const Event& e : events) {
      for (const auto& [name, v] : e.features) {
        if (name != features_[f].name) continue;
        size_t bin = fp.categories_size();
        if (features_[f].numeric) {
          bin = 0;
          for (double edge : fp.edges()) bin += edge <= v.number;
        } else {
          for (int c = 0; c < fp.categories_size(); ++c) {
            if (fp.categories(c) == v.category) bin = c;
          }
        }
        ++counts[f][bin];
      }
    }
  }
  return counts;
}

v1::WindowSummary WindowSynthesizer::FromBinCounts(
    const std::vector<std::vector<uint64_t>>& counts, uint64_t events) const {
  v1::WindowSummary s;
  s.set_profile_id(profile_->profile_id());
  s.mutable_operational()->set_event_count(events);
  s.mutable_performance();
  std::vector<size_t> order(features_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return features_[a].name < features_[b].name;
  });
  for (size_t f : order) {
    const std::vector<uint64_t>& c = counts[f];
    v1::FeatureSummary* fs = s.add_features();
    fs->set_name(features_[f].name);
    fs->mutable_histogram()->mutable_counts()->Add(c.begin(), c.end());
    v1::DataQuality* q = fs->mutable_quality();
    uint64_t n = 0;
    for (uint64_t x : c) n += x;
    q->set_missing(events - n);
    if (!features_[f].numeric) {
      // Every category of the population is in the profile: the "other"
      // bin holds only unseen ones.
      q->set_unseen_category(c.back());
      continue;
    }
    q->set_out_of_range(c.front() + c.back());
    double sum = 0, sum_squares = 0;
    for (size_t b = 0; b < c.size(); ++b) {
      sum += c[b] * bins_[f].mean[b];
      sum_squares += c[b] * bins_[f].mean_square[b];
    }
    fs->set_n(n);
    fs->set_sum(sum);
    fs->set_sum_squares(sum_squares);
  }
  return s;
}

std::vector<Scenario> StandardScenarios(absl::Duration days,
                                        absl::Duration shift_start,
                                        absl::Duration shift_horizon) {
  std::vector<Scenario> out;
  out.push_back({"stationary", ScenarioKind::kStationary, 0, "",
                 absl::ZeroDuration(), days});
  out.push_back({"negligible", ScenarioKind::kNegligible, 0.005, "",
                 absl::ZeroDuration(), days});
  for (double psi : {0.2, 0.05}) {
    out.push_back({absl::StrCat("shift_", psi), ScenarioKind::kShift, psi,
                   "income", shift_start, shift_start + shift_horizon});
  }
  return out;
}

}  // namespace aims::bench

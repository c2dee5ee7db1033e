// DriftMetrics and CompareHistograms (common/summary/metric_engine.h): the
// distances between a window's histogram and the reference profile's, each
// with the sizes its sampling error follows from (sample_size,
// reference_size, bins) and its 95 % interval (sampling_error.h,
// wasserstein.h); drifted_feature_share judges each feature by the PSI's
// low end against a minimum effect.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/summary/metric_engine.h"
#include "common/summary/metric_value.h"
#include "common/summary/sampling_error.h"
#include "common/summary/statistics.h"
#include "common/summary/wasserstein.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

using metric_internal::Insufficient;
using metric_internal::kNaN;
using metric_internal::SaturatedCount;
using metric_internal::Value;

double Sum(const google::protobuf::RepeatedField<uint64_t>& counts) {
  double total = 0;
  for (uint64_t c : counts) total += static_cast<double>(c);
  return total;
}

// The exact means' difference of a numeric feature and its standard error,
// from the window's moments and the profile's mean and deviation; none
// without them.
std::optional<MeanDifference> MeansOf(const v1::FeatureProfile& fp,
                                      const v1::FeatureSummary& fs,
                                      double reference_size) {
  if (fs.n() < 2 || !(fp.stddev() > 0) || !(reference_size > 0)) {
    return std::nullopt;
  }
  const double n = static_cast<double>(fs.n());
  const double mean = fs.sum() / n;
  const double variance =
      std::max(0.0, (fs.sum_squares() - fs.sum() * mean) / (n - 1));
  return MeanDifference{
      std::fabs(mean - fp.mean()),
      std::sqrt(variance / n + fp.stddev() * fp.stddev() / reference_size)};
}

// Appends one feature's distances to `out`.
void FeatureDrift(const v1::FeatureProfile& fp, const v1::FeatureSummary* fs,
                  const MetricOptions& options,
                  std::vector<v1::MetricValue>* out) {
  const bool numeric = fp.kind() == v1::FeatureProfile::KIND_NUMERIC;
  const double reference_size = Sum(fp.reference_counts().counts());
  const uint64_t n =
      fs == nullptr ? 0 : SaturatedCount(Sum(fs->histogram().counts()));
  const bool comparable =
      fs != nullptr &&
      fs->histogram().counts_size() == fp.reference_counts().counts_size();
  std::vector<double> ref(fp.reference_counts().counts().begin(),
                          fp.reference_counts().counts().end());
  std::vector<double> cur;
  if (comparable) {
    cur.assign(fs->histogram().counts().begin(),
               fs->histogram().counts().end());
  } else {
    cur.assign(ref.size(), 0);
  }
  std::vector<double> positions;
  if (numeric)
    positions = BinPositions({fp.edges().begin(), fp.edges().end()}, ref);
  const Distances d =
      CompareHistograms(ref, cur, positions, options.psi_epsilon);
  auto scoped = [&](v1::MetricValue m) {
    m.set_feature(fp.name());
    m.set_reference_size(SaturatedCount(reference_size));
    m.set_bins(d.bins);
    return m;
  };
  std::vector<const char*> names = {"psi", "js_distance", "hellinger",
                                    "chi_squared"};
  if (numeric) names.insert(names.end(), {"ks_statistic", "wasserstein_norm"});
  if (!comparable || n == 0 || n < options.min_drift_samples ||
      !(reference_size > 0)) {
    for (const char* name : names)
      out->push_back(scoped(Insufficient(name, n)));
    return;
  }
  auto with_interval = [&](const char* name, double value) {
    v1::MetricValue m = scoped(Value(name, value, n));
    const Interval ci = DistanceInterval(m);
    m.set_ci_low(ci.low);
    m.set_ci_high(ci.high);
    return m;
  };
  out->push_back(with_interval("psi", d.psi));
  out->push_back(with_interval("js_distance", d.js_distance));
  out->push_back(with_interval("hellinger", d.hellinger));
  v1::MetricValue chi = scoped(Value("chi_squared", d.chi_squared, n));
  chi.set_p_value(d.chi_squared_p);
  out->push_back(chi);
  if (!numeric) return;
  v1::MetricValue ks = with_interval("ks_statistic", d.ks_statistic);
  ks.set_p_value(d.ks_p);
  out->push_back(ks);
  const WassersteinEstimate w =
      BinnedWasserstein(ref, cur, positions, MeansOf(fp, *fs, reference_size));
  const double sd = fp.stddev();
  v1::MetricValue wn =
      scoped(Value("wasserstein_norm", sd > 0 ? w.value / sd : kNaN, n));
  if (sd > 0) {
    wn.set_ci_low(w.ci.low / sd);
    wn.set_ci_high(w.ci.high / sd);
  }
  out->push_back(wn);
}

}  // namespace

Distances CompareHistograms(const std::vector<double>& reference,
                            const std::vector<double>& current,
                            const std::vector<double>& positions,
                            double psi_epsilon) {
  Distances d;
  const size_t k = std::min(reference.size(), current.size());
  double r_total = 0, c_total = 0;
  for (size_t i = 0; i < k; ++i) {
    r_total += reference[i];
    c_total += current[i];
    if (reference[i] + current[i] > 0) ++d.bins;
  }
  if (r_total == 0 || c_total == 0) return d;
  double js = 0, bc = 0, cdf_r = 0, cdf_c = 0;
  // Chi-squared on the 2 x k table without columns empty in both.
  std::vector<std::pair<double, double>> columns;
  for (size_t i = 0; i < k; ++i) {
    const double p = reference[i] / r_total, q = current[i] / c_total;
    const double ps = std::max(p, psi_epsilon), qs = std::max(q, psi_epsilon);
    d.psi += (qs - ps) * std::log(qs / ps);
    const double m = (p + q) / 2;
    if (p > 0) js += 0.5 * p * std::log2(p / m);
    if (q > 0) js += 0.5 * q * std::log2(q / m);
    bc += std::sqrt(p * q);
    cdf_r += p;
    cdf_c += q;
    d.ks_statistic = std::max(d.ks_statistic, std::fabs(cdf_r - cdf_c));
    if (!positions.empty() && i + 1 < k) {
      d.wasserstein +=
          std::fabs(cdf_r - cdf_c) * (positions[i + 1] - positions[i]);
    }
    if (reference[i] + current[i] > 0)
      columns.emplace_back(reference[i], current[i]);
  }
  d.js_distance = std::sqrt(std::max(0.0, js));
  d.hellinger = std::sqrt(std::max(0.0, 1.0 - bc));
  const double total = r_total + c_total;
  const double dof = static_cast<double>(columns.size()) - 1;
  if (dof >= 1) {
    double chi = 0;
    for (const auto& [r, c] : columns) {
      const double col = r + c;
      for (const auto& [observed, row] :
           {std::pair{r, r_total}, std::pair{c, c_total}}) {
        const double expected = row * col / total;
        double o = observed;
        if (dof == 1) {
          // Yates' correction, as scipy.stats.chi2_contingency does for dof 1.
          const double diff = expected - o;
          o += std::copysign(std::min(0.5, std::fabs(diff)), diff);
        }
        chi += (o - expected) * (o - expected) / expected;
      }
    }
    d.chi_squared = chi;
    d.chi_squared_p = ChiSquaredSurvival(chi, dof);
  }
  const double en = std::sqrt(r_total * c_total / total);
  d.ks_p = KolmogorovSurvival(en * d.ks_statistic);
  return d;
}

std::vector<v1::MetricValue> DriftMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile& profile,
                                          const MetricOptions& options) {
  std::vector<v1::MetricValue> out;
  if (summary.profile_id().empty() ||
      summary.profile_id() != profile.profile_id()) {
    // Not applicable: the window was not binned on this profile.
    out.push_back(Value("drifted_feature_share", kNaN, 0));
    return out;
  }
  std::map<std::string, const v1::FeatureSummary*> current;
  for (const v1::FeatureSummary& f : summary.features()) current[f.name()] = &f;
  uint64_t judged = 0, drifted = 0;
  for (const v1::FeatureProfile& fp : profile.features()) {
    auto it = current.find(fp.name());
    const size_t first = out.size();
    FeatureDrift(fp, it == current.end() ? nullptr : it->second, options, &out);
    // A feature counts as drifted when its PSI is shown to exceed the
    // minimum effect: the interval's low end (bias accounted for) above it.
    const v1::MetricValue& psi = out[first];
    if (psi.state() != v1::EVIDENCE_STATE_OK) continue;
    // The model's predictions (scores) are an output, not an input feature:
    // their drift has its own per-feature metrics, not a share of inputs.
    if (fp.name() == kPredictionFeature) continue;
    ++judged;
    if (psi.ci_low() > options.min_drift_effect_psi) ++drifted;
  }
  out.push_back(judged == 0
                    ? Insufficient("drifted_feature_share", 0)
                    : Value("drifted_feature_share",
                            static_cast<double>(drifted) / judged, judged));
  return out;
}

}  // namespace aims

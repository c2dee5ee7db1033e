#include "common/summary/metric_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/summary/quantile_sketch.h"
#include "common/summary/statistics.h"

namespace aims {
namespace {

// A count summed as a double, as an integer: sums of valid uint64 counts
// can pass 2^64, where converting back would be undefined.
uint64_t SaturatedCount(double sum) {
  constexpr double kMax = 18446744073709551615.0;  // rounds to 2^64
  return sum >= kMax ? std::numeric_limits<uint64_t>::max()
                     : static_cast<uint64_t>(sum);
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

v1::MetricValue Value(std::string name, double value, uint64_t n) {
  v1::MetricValue m;
  m.set_metric(std::move(name));
  m.set_value(value);
  m.set_ci_low(kNaN);
  m.set_ci_high(kNaN);
  m.set_sample_size(n);
  m.set_state(std::isfinite(value) ? v1::EVIDENCE_STATE_OK
                                   : v1::EVIDENCE_STATE_NOT_APPLICABLE);
  return m;
}

v1::MetricValue Proportion(std::string name, uint64_t k, uint64_t n) {
  if (n == 0) return Value(std::move(name), kNaN, 0);
  v1::MetricValue m = Value(std::move(name), static_cast<double>(k) / n, n);
  const Interval ci = WilsonInterval(k, n);
  m.set_ci_low(ci.low);
  m.set_ci_high(ci.high);
  return m;
}

v1::MetricValue Insufficient(std::string name, uint64_t n) {
  v1::MetricValue m = Value(std::move(name), kNaN, n);
  m.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  return m;
}

double SafeDiv(double a, double b) { return b > 0 ? a / b : 0.0; }

void Confusion(const v1::ConfusionMatrix& cm, const MetricOptions& options,
               std::vector<v1::MetricValue>* out) {
  const int k = cm.classes_size();
  uint64_t total = 0, correct = 0;
  std::vector<double> tp(k), fp(k), fn(k), support(k);
  for (int a = 0; a < k; ++a) {
    for (int p = 0; p < k; ++p) {
      const double c = static_cast<double>(cm.counts(a * k + p));
      total += cm.counts(a * k + p);
      if (a == p) {
        correct += cm.counts(a * k + p);
        tp[a] += c;
      } else {
        fn[a] += c;
        fp[p] += c;
      }
      support[a] += c;
    }
  }
  if (total < options.min_labelled) {
    for (const char* name :
         {"accuracy", "precision", "recall", "f1", "precision_macro",
          "recall_macro", "f1_macro", "f1_micro", "f1_weighted"}) {
      out->push_back(Insufficient(name, total));
    }
    return;
  }
  out->push_back(Proportion("accuracy", correct, total));
  double macro_p = 0, macro_r = 0, macro_f = 0, weighted_f = 0, weighted_p = 0,
         weighted_r = 0;
  for (int c = 0; c < k; ++c) {
    const double precision = SafeDiv(tp[c], tp[c] + fp[c]);
    const double recall = SafeDiv(tp[c], tp[c] + fn[c]);
    const double f1 = SafeDiv(2 * precision * recall, precision + recall);
    macro_p += precision / k;
    macro_r += recall / k;
    macro_f += f1 / k;
    weighted_p += precision * support[c] / total;
    weighted_r += recall * support[c] / total;
    weighted_f += f1 * support[c] / total;
    if (options.task == v1::TASK_TYPE_BINARY &&
        cm.classes(c) == options.positive_class) {
      out->push_back(Proportion("precision", SaturatedCount(tp[c]),
                                SaturatedCount(tp[c] + fp[c])));
      out->push_back(Proportion("recall", SaturatedCount(tp[c]),
                                SaturatedCount(tp[c] + fn[c])));
      out->push_back(Value("f1", f1, total));
    }
  }
  out->push_back(Value("precision_macro", macro_p, total));
  out->push_back(Value("recall_macro", macro_r, total));
  out->push_back(Value("f1_macro", macro_f, total));
  out->push_back(Value("precision_weighted", weighted_p, total));
  out->push_back(Value("recall_weighted", weighted_r, total));
  out->push_back(Value("f1_weighted", weighted_f, total));
  // Single-label micro averages all equal accuracy.
  out->push_back(
      Value("f1_micro", static_cast<double>(correct) / total, total));
}

// Mann-Whitney AUC of binned scores: pairs in one bin count one half.
double BinnedAuc(const v1::BinnedCounts& negative,
                 const v1::BinnedCounts& positive, uint64_t* pairs_n,
                 uint64_t* pairs_p) {
  double neg_total = 0, pos_total = 0, below = 0, area = 0;
  for (int i = 0; i < negative.counts_size(); ++i)
    neg_total += negative.counts(i);
  for (int i = 0; i < positive.counts_size(); ++i)
    pos_total += positive.counts(i);
  *pairs_n = SaturatedCount(neg_total);
  *pairs_p = SaturatedCount(pos_total);
  if (neg_total == 0 || pos_total == 0) return kNaN;
  for (int i = 0; i < negative.counts_size() && i < positive.counts_size();
       ++i) {
    area += positive.counts(i) * (below + 0.5 * negative.counts(i));
    below += negative.counts(i);
  }
  return area / (neg_total * pos_total);
}

// A group's rate with its Wilson interval, for the comparisons between
// groups.
struct GroupRate {
  double value;
  Interval ci;
  std::string group;
  uint64_t n;
};

// The rates of one attribute's groups that have enough events.
struct GroupRates {
  std::vector<GroupRate> selection, tpr, fpr, ppv;
};

// Appends every group's selection rate, TPR, FPR and precision of `a` to
// `out` (insufficient below min_group_size) and returns the rates that
// qualify for comparison.
GroupRates AddGroupRates(const v1::AttributeSummary& a,
                         const MetricOptions& options,
                         std::vector<v1::MetricValue>* out) {
  GroupRates rates;
  for (const v1::GroupCounts& g : a.groups()) {
    auto scoped = [&](v1::MetricValue m) {
      m.set_attribute(a.attribute());
      m.set_group(g.group());
      return m;
    };
    const bool enough = g.n() >= options.min_group_size;
    auto rate = [&](const char* name, uint64_t k, uint64_t n,
                    std::vector<GroupRate>* into) {
      if (!enough) {
        out->push_back(scoped(Insufficient(name, n)));
        return;
      }
      v1::MetricValue m = scoped(Proportion(name, k, n));
      out->push_back(m);
      if (n > 0)
        into->push_back({m.value(), {m.ci_low(), m.ci_high()}, g.group(), n});
    };
    rate("selection_rate", g.predicted_positive(), g.n(), &rates.selection);
    rate("true_positive_rate", g.true_positive(),
         g.true_positive() + g.false_negative(), &rates.tpr);
    rate("false_positive_rate", g.false_positive(),
         g.false_positive() + g.true_negative(), &rates.fpr);
    rate("precision", g.true_positive(), g.true_positive() + g.false_positive(),
         &rates.ppv);
  }
  return rates;
}

bool LowerRate(const GroupRate& x, const GroupRate& y) {
  return x.value < y.value;
}

// max - min over qualifying groups, Newcombe interval of that pair.
v1::MetricValue RateGap(const char* name, const std::vector<GroupRate>& rates) {
  if (rates.size() < 2) return Insufficient(name, rates.size());
  auto [lo, hi] = std::minmax_element(rates.begin(), rates.end(), LowerRate);
  // The smaller of the two compared samples limits the evidence.
  v1::MetricValue m =
      Value(name, hi->value - lo->value, std::min(hi->n, lo->n));
  const Interval ci = NewcombeDifference(hi->value, hi->ci, lo->value, lo->ci);
  m.set_ci_low(ci.low);
  m.set_ci_high(ci.high);
  m.set_group(hi->group + " vs " + lo->group);
  return m;
}

// demographic_parity_ratio: min / max selection rate (disparate impact).
v1::MetricValue DisparateImpactRatio(const std::vector<GroupRate>& selection) {
  if (selection.size() < 2)
    return Insufficient("demographic_parity_ratio", selection.size());
  auto [lo, hi] =
      std::minmax_element(selection.begin(), selection.end(), LowerRate);
  v1::MetricValue m = Value("demographic_parity_ratio",
                            hi->value > 0 ? lo->value / hi->value : kNaN,
                            std::min(hi->n, lo->n));
  // Conservative bounds from the two Wilson intervals.
  if (hi->ci.high > 0) m.set_ci_low(lo->ci.low / hi->ci.high);
  if (hi->ci.low > 0) m.set_ci_high(std::min(1.0, lo->ci.high / hi->ci.low));
  m.set_group(lo->group + " / " + hi->group);
  return m;
}

// Equalized odds: the larger of the TPR and FPR gaps (Fairlearn).
v1::MetricValue EqualizedOdds(const std::vector<GroupRate>& tpr,
                              const std::vector<GroupRate>& fpr) {
  if (tpr.size() < 2 || fpr.size() < 2) {
    return Insufficient("equalized_odds_difference",
                        std::min(tpr.size(), fpr.size()));
  }
  auto spread = [](const std::vector<GroupRate>& r) {
    auto [lo, hi] = std::minmax_element(r.begin(), r.end(), LowerRate);
    return hi->value - lo->value;
  };
  uint64_t n = UINT64_MAX;
  for (const auto* rates : {&tpr, &fpr}) {
    for (const GroupRate& r : *rates) n = std::min(n, r.n);
  }
  return Value("equalized_odds_difference", std::max(spread(tpr), spread(fpr)),
               n);
}

}  // namespace

std::vector<double> BinPositions(const std::vector<double>& edges) {
  std::vector<double> positions;
  if (edges.empty()) return positions;
  positions.push_back(edges.front());
  for (size_t i = 1; i < edges.size(); ++i) {
    positions.push_back((edges[i - 1] + edges[i]) / 2);
  }
  positions.push_back(edges.back());
  return positions;
}

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

std::vector<v1::MetricValue> PerformanceMetrics(
    const v1::WindowSummary& summary, const MetricOptions& options,
    absl::Duration span) {
  std::vector<v1::MetricValue> out;
  const v1::OperationalSummary& op = summary.operational();
  out.push_back(Proportion("error_rate", op.error_count(), op.event_count()));
  const double seconds = absl::ToDoubleSeconds(span);
  out.push_back(Value("throughput",
                      seconds > 0 ? op.event_count() / seconds : kNaN,
                      op.event_count()));
  absl::StatusOr<QuantileSketch> latency =
      QuantileSketch::FromProto(op.latency_seconds());
  for (auto [name, q] :
       {std::pair{"latency_p50", 0.5}, std::pair{"latency_p90", 0.9},
        std::pair{"latency_p99", 0.99}}) {
    const bool ok = latency.ok() && !latency->empty();
    out.push_back(Value(name, ok ? latency->Quantile(q) : kNaN,
                        ok ? latency->count() : 0));
  }
  const uint64_t matched = op.labels_matched();
  out.push_back(Value("labels_matched", static_cast<double>(matched), matched));

  const v1::PerformanceSummary& perf = summary.performance();
  if (options.task == v1::TASK_TYPE_REGRESSION) {
    const v1::RegressionSums& r = perf.regression();
    const uint64_t n = r.n();
    if (n < options.min_labelled) {
      for (const char* name : {"mae", "rmse", "mape", "r2"})
        out.push_back(Insufficient(name, n));
      return out;
    }
    out.push_back(Value("mae", r.sum_abs_error() / n, n));
    out.push_back(Value("rmse", std::sqrt(r.sum_squared_error() / n), n));
    out.push_back(Value("mape",
                        r.n_nonzero_label()
                            ? r.sum_abs_percentage_error() / r.n_nonzero_label()
                            : kNaN,
                        r.n_nonzero_label()));
    const double sst =
        r.sum_label_squared() - r.sum_label() * r.sum_label() / n;
    out.push_back(
        Value("r2", sst > 0 ? 1 - r.sum_squared_error() / sst : kNaN, n));
    return out;
  }
  Confusion(perf.confusion(), options, &out);
  const v1::ProbabilitySums& prob = perf.probability();
  if (prob.n() < options.min_labelled) {
    out.push_back(Insufficient("log_loss", prob.n()));
    out.push_back(Insufficient("brier", prob.n()));
  } else {
    out.push_back(Value("log_loss", prob.sum_log_loss() / prob.n(), prob.n()));
    // Binary: sklearn's brier_score_loss, mean (p - y)^2 (the sum holds both
    // classes' terms); multi-class: the sum over classes, per event.
    const double per_event = prob.sum_brier() / prob.n();
    out.push_back(
        Value("brier",
              options.task == v1::TASK_TYPE_BINARY ? per_event / 2 : per_event,
              prob.n()));
  }
  if (options.task == v1::TASK_TYPE_BINARY && perf.score_by_label_size() == 2) {
    uint64_t negatives = 0, positives = 0;
    const double auc = BinnedAuc(perf.score_by_label(0), perf.score_by_label(1),
                                 &negatives, &positives);
    if (negatives + positives < options.min_labelled) {
      out.push_back(Insufficient("roc_auc", negatives + positives));
    } else {
      out.push_back(Value("roc_auc", auc, negatives + positives));
    }
  }
  return out;
}

std::vector<v1::MetricValue> DriftMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile& profile,
                                          const MetricOptions& options) {
  std::vector<v1::MetricValue> out;
  if (summary.profile_id().empty() ||
      summary.profile_id() != profile.profile_id()) {
    v1::MetricValue m = Value("drifted_feature_share", kNaN, 0);
    out.push_back(m);  // not applicable: not binned on this profile
    return out;
  }
  std::map<std::string, const v1::FeatureSummary*> current;
  for (const v1::FeatureSummary& f : summary.features()) current[f.name()] = &f;
  std::vector<double> p_values;
  std::vector<size_t> p_index;  // position in `out` of each feature's test
  for (const v1::FeatureProfile& fp : profile.features()) {
    auto it = current.find(fp.name());
    uint64_t n = 0;
    if (it != current.end()) {
      for (uint64_t c : it->second->histogram().counts()) n += c;
    }
    auto scoped = [&](v1::MetricValue m) {
      m.set_feature(fp.name());
      return m;
    };
    const bool numeric = fp.kind() == v1::FeatureProfile::KIND_NUMERIC;
    if (it == current.end() || n == 0 || n < options.min_drift_samples ||
        it->second->histogram().counts_size() !=
            fp.reference_counts().counts_size()) {
      for (const char* name :
           {"psi", "js_distance", "hellinger", "chi_squared"}) {
        out.push_back(scoped(Insufficient(name, n)));
      }
      if (numeric) {
        out.push_back(scoped(Insufficient("ks_statistic", n)));
        out.push_back(scoped(Insufficient("wasserstein_norm", n)));
      }
      continue;
    }
    std::vector<double> ref(fp.reference_counts().counts().begin(),
                            fp.reference_counts().counts().end());
    std::vector<double> cur(it->second->histogram().counts().begin(),
                            it->second->histogram().counts().end());
    std::vector<double> positions;
    if (numeric)
      positions = BinPositions({fp.edges().begin(), fp.edges().end()});
    const Distances d =
        CompareHistograms(ref, cur, positions, options.psi_epsilon);
    out.push_back(scoped(Value("psi", d.psi, n)));
    out.push_back(scoped(Value("js_distance", d.js_distance, n)));
    out.push_back(scoped(Value("hellinger", d.hellinger, n)));
    v1::MetricValue chi = scoped(Value("chi_squared", d.chi_squared, n));
    chi.set_p_value(d.chi_squared_p);
    out.push_back(chi);
    if (numeric) {
      v1::MetricValue ks = scoped(Value("ks_statistic", d.ks_statistic, n));
      ks.set_p_value(d.ks_p);
      out.push_back(ks);
      p_values.push_back(d.ks_p);
      p_index.push_back(out.size() - 1);
      out.push_back(scoped(
          Value("wasserstein_norm",
                fp.stddev() > 0 ? d.wasserstein / fp.stddev() : kNaN, n)));
    } else {
      p_values.push_back(d.chi_squared_p);
      p_index.push_back(out.size() - 1);
    }
  }
  std::vector<double> adjusted = p_values;
  if (options.correction == MetricOptions::Correction::kBonferroni) {
    adjusted = BonferroniAdjust(p_values);
  } else if (options.correction ==
             MetricOptions::Correction::kBenjaminiHochberg) {
    adjusted = BenjaminiHochbergAdjust(p_values);
  }
  uint64_t drifted = 0;
  for (size_t i = 0; i < adjusted.size(); ++i) {
    if (adjusted[i] < options.alpha) ++drifted;
  }
  out.push_back(adjusted.empty()
                    ? Insufficient("drifted_feature_share", 0)
                    : Value("drifted_feature_share",
                            static_cast<double>(drifted) / adjusted.size(),
                            adjusted.size()));
  return out;
}

std::vector<v1::MetricValue> FairnessMetrics(const v1::WindowSummary& summary,
                                             const MetricOptions& options) {
  std::vector<v1::MetricValue> out;
  for (const v1::AttributeSummary& a : summary.attributes()) {
    const GroupRates rates = AddGroupRates(a, options, &out);
    auto scoped = [&](v1::MetricValue m) {
      m.set_attribute(a.attribute());
      return m;
    };
    out.push_back(
        scoped(RateGap("demographic_parity_difference", rates.selection)));
    out.push_back(scoped(DisparateImpactRatio(rates.selection)));
    out.push_back(scoped(RateGap("equal_opportunity_difference", rates.tpr)));
    out.push_back(scoped(EqualizedOdds(rates.tpr, rates.fpr)));
    out.push_back(scoped(RateGap("predictive_parity_difference", rates.ppv)));
  }
  return out;
}

}  // namespace aims

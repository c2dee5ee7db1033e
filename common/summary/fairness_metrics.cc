// FairnessMetrics (common/summary/metric_engine.h): every rate counts the
// events it is computed from (selection rate: the group's events; TPR: its
// labelled positives; FPR: its labelled negatives; precision: its labelled
// predicted positives), min_group_size applies to that count, and a gap
// compares the groups that have enough of it.
#include <algorithm>
#include <cmath>

#include "common/summary/metric_engine.h"
#include "common/summary/metric_value.h"
#include "common/summary/statistics.h"

namespace aims {
namespace {

using metric_internal::Insufficient;
using metric_internal::kNaN;
using metric_internal::ProportionOf;
using metric_internal::Value;

// One group's rate: its count, and for groups with enough of it the value
// and Wilson intervals at 95 % and 97.5 % (the latter for equalized odds).
struct GroupRate {
  std::string group;
  uint64_t k = 0, n = 0;
  bool qualifies = false;
  double value = kNaN;
  Interval ci, ci975;
};

// Every group's rates of one attribute.
struct GroupRates {
  std::vector<GroupRate> selection, tpr, fpr, ppv;
};

// Appends every group's selection rate, TPR, FPR and precision of `a` to
// `out` (insufficient below min_group_size of the rate's own count) and
// returns them for the comparisons.
GroupRates AddGroupRates(const v1::AttributeSummary& a,
                         const MetricOptions& options,
                         std::vector<v1::MetricValue>* out) {
  GroupRates rates;
  for (const v1::GroupCounts& g : a.groups()) {
    auto rate = [&](const char* name, uint64_t k, uint64_t n,
                    std::vector<GroupRate>* into) {
      v1::MetricValue m = ProportionOf(name, k, n, options.min_group_size);
      m.set_attribute(a.attribute());
      m.set_group(g.group());
      GroupRate r;
      r.group = g.group();
      r.k = k;
      r.n = n;
      r.qualifies = m.state() == v1::EVIDENCE_STATE_OK;
      if (r.qualifies) {
        r.value = m.value();
        r.ci = {m.ci_low(), m.ci_high()};
        r.ci975 = WilsonInterval(k, n, kZ975);
      }
      into->push_back(r);
      out->push_back(std::move(m));
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

// The qualifying groups with the lowest and highest rate (nullptr without
// two of them).
std::pair<const GroupRate*, const GroupRate*> Extremes(
    const std::vector<GroupRate>& rates) {
  const GroupRate *lo = nullptr, *hi = nullptr;
  int qualifying = 0;
  for (const GroupRate& r : rates) {
    if (!r.qualifies) continue;
    ++qualifying;
    if (lo == nullptr || r.value < lo->value) lo = &r;
    if (hi == nullptr || r.value > hi->value) hi = &r;
  }
  if (qualifying < 2) return {nullptr, nullptr};
  return {lo, hi};
}

// Without two qualifying groups: the count the best pair would compare, so
// the insufficient value says how far from the minimum it is.
v1::MetricValue InsufficientGap(const char* name,
                                const std::vector<GroupRate>& rates) {
  uint64_t first = 0, second = 0;
  for (const GroupRate& r : rates) {
    if (r.n > first) {
      second = first;
      first = r.n;
    } else if (r.n > second) {
      second = r.n;
    }
  }
  return Insufficient(name, second);
}

// max - min over qualifying groups, Newcombe interval of that pair at the
// z of `ci` (95 % or 97.5 %); the smaller of the pair's counts limits the
// evidence.
v1::MetricValue RateGap(const char* name, const std::vector<GroupRate>& rates,
                        Interval GroupRate::*ci = &GroupRate::ci) {
  auto [lo, hi] = Extremes(rates);
  if (lo == nullptr) return InsufficientGap(name, rates);
  v1::MetricValue m =
      Value(name, hi->value - lo->value, std::min(hi->n, lo->n));
  const Interval gap =
      NewcombeDifference(hi->value, hi->*ci, lo->value, lo->*ci);
  m.set_ci_low(gap.low);
  m.set_ci_high(gap.high);
  m.set_group(hi->group + " vs " + lo->group);
  return m;
}

// demographic_parity_ratio: min / max selection rate (disparate impact).
v1::MetricValue DisparateImpactRatio(const std::vector<GroupRate>& selection) {
  auto [lo, hi] = Extremes(selection);
  if (lo == nullptr)
    return InsufficientGap("demographic_parity_ratio", selection);
  v1::MetricValue m = Value("demographic_parity_ratio",
                            hi->value > 0 ? lo->value / hi->value : kNaN,
                            std::min(hi->n, lo->n));
  // Conservative bounds from the two Wilson intervals.
  if (hi->ci.high > 0) m.set_ci_low(lo->ci.low / hi->ci.high);
  if (hi->ci.low > 0) m.set_ci_high(std::min(1.0, lo->ci.high / hi->ci.low));
  m.set_group(lo->group + " / " + hi->group);
  return m;
}

// Equalized odds: the larger of the TPR and FPR gaps (Fairlearn). Its
// interval: each gap's Newcombe interval at 97.5 % taken on the absolute
// scale, [max(0, low), max(|low|, high)]; max is monotone, so while both
// hold (at least 95 % of windows, Bonferroni) the larger gap lies in
// [max of the lows, max of the highs].
v1::MetricValue EqualizedOdds(const std::vector<GroupRate>& tpr,
                              const std::vector<GroupRate>& fpr) {
  constexpr char kName[] = "equalized_odds_difference";
  const v1::MetricValue t = RateGap(kName, tpr, &GroupRate::ci975);
  const v1::MetricValue f = RateGap(kName, fpr, &GroupRate::ci975);
  if (t.state() != v1::EVIDENCE_STATE_OK ||
      f.state() != v1::EVIDENCE_STATE_OK) {
    return Insufficient(kName, std::min(t.sample_size(), f.sample_size()));
  }
  const v1::MetricValue& larger = t.value() >= f.value() ? t : f;
  v1::MetricValue m =
      Value(kName, larger.value(), std::min(t.sample_size(), f.sample_size()));
  auto low = [](const v1::MetricValue& v) { return std::max(0.0, v.ci_low()); };
  auto high = [](const v1::MetricValue& v) {
    return std::max(std::fabs(v.ci_low()), v.ci_high());
  };
  m.set_ci_low(std::max(low(t), low(f)));
  m.set_ci_high(std::max(high(t), high(f)));
  m.set_group(larger.group());
  return m;
}

}  // namespace

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

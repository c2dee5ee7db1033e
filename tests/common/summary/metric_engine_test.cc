#include "common/summary/metric_engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/summary/quantile_sketch.h"
#include "common/summary/statistics.h"
#include "common/summary/summary_merge.h"
#include "common/summary/wasserstein.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

const v1::MetricValue* Find(const std::vector<v1::MetricValue>& values,
                            const std::string& metric,
                            const std::string& group = "") {
  for (const auto& v : values) {
    if (v.metric() == metric && (group.empty() || v.group() == group))
      return &v;
  }
  return nullptr;
}

TEST(MetricEngineTest, TooFewLabelsIsInsufficientNotANumber) {
  v1::WindowSummary s;
  s.mutable_operational()->set_event_count(100);
  v1::ConfusionMatrix* cm = s.mutable_performance()->mutable_confusion();
  cm->add_classes("1");
  cm->add_classes("0");
  for (uint64_t c : {5, 1, 2, 3}) cm->add_counts(c);  // 11 labelled
  MetricOptions options;
  const auto values = PerformanceMetrics(s, options, absl::Seconds(10));
  const v1::MetricValue* accuracy = Find(values, "accuracy");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_EQ(accuracy->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(accuracy->value()));
  EXPECT_EQ(accuracy->sample_size(), 11u);
  options.min_labelled = 10;
  const auto enough = PerformanceMetrics(s, options, absl::Seconds(10));
  EXPECT_NEAR(Find(enough, "accuracy")->value(), 8.0 / 11, 1e-12);
  EXPECT_NEAR(Find(enough, "throughput")->value(), 10.0, 1e-12);
  // No latency sketch: not applicable, not zero.
  EXPECT_EQ(Find(enough, "latency_p99")->state(),
            v1::EVIDENCE_STATE_NOT_APPLICABLE);
}

// Coverage is labelled / events with its Wilson interval; the delays are
// quantiles of the joined labels' delay sketch, absent without labels.
TEST(MetricEngineTest, LabelCoverageAndDelay) {
  v1::WindowSummary s;
  s.mutable_operational()->set_event_count(200);
  s.mutable_performance()->set_labelled_count(50);
  std::vector<v1::MetricValue> values =
      PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  const v1::MetricValue* coverage = Find(values, "label_coverage");
  ASSERT_NE(coverage, nullptr);
  EXPECT_DOUBLE_EQ(coverage->value(), 0.25);
  EXPECT_EQ(coverage->sample_size(), 200u);
  const Interval wilson = WilsonInterval(50, 200);
  EXPECT_DOUBLE_EQ(coverage->ci_low(), wilson.low);
  EXPECT_DOUBLE_EQ(coverage->ci_high(), wilson.high);
  EXPECT_EQ(Find(values, "label_delay_p50_seconds")->state(),
            v1::EVIDENCE_STATE_NOT_APPLICABLE);

  QuantileSketch delay;
  for (int i = 1; i <= 100; ++i) delay.Add(i * 60.0);  // 1..100 minutes
  delay.ToProto(s.mutable_operational()->mutable_label_delay_seconds());
  values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  // DDSketch: within 1 % of the exact quantiles (50 and 90 minutes).
  EXPECT_NEAR(Find(values, "label_delay_p50_seconds")->value(), 3000, 30);
  EXPECT_NEAR(Find(values, "label_delay_p90_seconds")->value(), 5400, 54);
  EXPECT_EQ(Find(values, "label_delay_p90_seconds")->sample_size(), 100u);

  // No events: not applicable, not zero.
  s.mutable_operational()->set_event_count(0);
  values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  EXPECT_EQ(Find(values, "label_coverage")->state(),
            v1::EVIDENCE_STATE_NOT_APPLICABLE);
}

// Coverage's denominator is the events a label can reach: those with an
// inline label or a prediction_id; joined labels (a label report merged
// into the window) raise it.
TEST(MetricEngineTest, LabelCoverageCountsOnlyLabelableEvents) {
  auto config = std::make_shared<SummaryConfig>();
  WindowAccumulator acc(config);
  for (int i = 0; i < 10; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = "1";
    if (i < 2) {
      e.label = e.prediction;  // inline label
    } else if (i < 6) {
      e.prediction_id = absl::StrCat("p", i);  // awaits a delayed label
    }  // else: no id, no label: never labelled
    acc.Add(e);
  }
  v1::WindowSummary s = acc.Build();
  EXPECT_EQ(s.operational().event_count(), 10u);
  EXPECT_EQ(s.operational().labelable_count(), 6u);
  std::vector<v1::MetricValue> values =
      PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  const v1::MetricValue* coverage = Find(values, "label_coverage");
  ASSERT_NE(coverage, nullptr);
  EXPECT_DOUBLE_EQ(coverage->value(), 2.0 / 6);
  EXPECT_EQ(coverage->sample_size(), 6u);

  v1::WindowSummary joined;  // a label report: three delayed labels
  joined.mutable_performance()->set_labelled_count(3);
  ASSERT_TRUE(MergeSummaries(&s, joined).ok());
  values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  EXPECT_DOUBLE_EQ(Find(values, "label_coverage")->value(), 5.0 / 6);

  // A summary stored before labelable_count: every event counts.
  s.mutable_operational()->set_labelable_count(0);
  values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  EXPECT_DOUBLE_EQ(Find(values, "label_coverage")->value(), 5.0 / 10);
}

TEST(MetricEngineTest, FairnessNeedsTwoGroupsOfMinimumSize) {
  v1::WindowSummary s;
  v1::AttributeSummary* a = s.add_attributes();
  a->set_attribute("gender");
  v1::GroupCounts* f = a->add_groups();
  f->set_group("f");
  f->set_n(100);
  f->set_predicted_positive(20);
  v1::GroupCounts* m = a->add_groups();
  m->set_group("m");
  m->set_n(29);
  m->set_predicted_positive(20);
  const auto values = FairnessMetrics(s, MetricOptions());
  const v1::MetricValue* dp = Find(values, "demographic_parity_ratio");
  ASSERT_NE(dp, nullptr);
  EXPECT_EQ(dp->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(dp->value()));
  m->set_n(40);
  const auto both = FairnessMetrics(s, MetricOptions());
  const v1::MetricValue* ratio = Find(both, "demographic_parity_ratio");
  EXPECT_NEAR(ratio->value(), 0.2 / 0.5, 1e-12);
  EXPECT_EQ(ratio->group(), "f / m");
  EXPECT_EQ(ratio->sample_size(), 40u);
  EXPECT_LT(ratio->ci_low(), ratio->value());
  EXPECT_GT(ratio->ci_high(), ratio->value());
  const v1::MetricValue* diff = Find(both, "demographic_parity_difference");
  EXPECT_NEAR(diff->value(), 0.3, 1e-12);
  EXPECT_LT(diff->ci_low(), 0.3);
  EXPECT_GT(diff->ci_high(), 0.3);
  // No labels: outcome rates do not apply.
  EXPECT_EQ(Find(both, "true_positive_rate", "f")->state(),
            v1::EVIDENCE_STATE_NOT_APPLICABLE);
  EXPECT_EQ(Find(both, "equal_opportunity_difference")->state(),
            v1::EVIDENCE_STATE_INSUFFICIENT);
}

TEST(MetricEngineTest, DriftNeedsTheSameProfile) {
  v1::WindowSummary s;
  s.set_profile_id("p1");
  v1::ReferenceProfile profile;
  profile.set_profile_id("p2");
  const auto values = DriftMetrics(s, profile, MetricOptions());
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].state(), v1::EVIDENCE_STATE_NOT_APPLICABLE);
}

TEST(MetricEngineTest, IdenticalHistogramsHaveNoDrift) {
  const Distances d = CompareHistograms({10, 20, 30, 0}, {20, 40, 60, 0},
                                        BinPositions({1, 2, 3}, {}), 1e-4);
  EXPECT_NEAR(d.psi, 0, 1e-12);
  EXPECT_NEAR(d.js_distance, 0, 1e-7);
  EXPECT_NEAR(d.hellinger, 0, 1e-7);
  EXPECT_NEAR(d.ks_statistic, 0, 1e-12);
  EXPECT_NEAR(d.chi_squared, 0, 1e-12);
  EXPECT_NEAR(d.chi_squared_p, 1, 1e-12);
  EXPECT_NEAR(d.wasserstein, 0, 1e-12);
}

// A binary confusion matrix, classes {"1", "0"}.
v1::WindowSummary Confusion(uint64_t tp, uint64_t fn, uint64_t fp,
                            uint64_t tn) {
  v1::WindowSummary s;
  v1::ConfusionMatrix* cm = s.mutable_performance()->mutable_confusion();
  cm->add_classes("1");
  cm->add_classes("0");
  for (uint64_t c : {tp, fn, fp, tn}) cm->add_counts(c);
  return s;
}

TEST(MetricEngineTest, PerformanceSampleSizeIsTheCountBehindEachValue) {
  // 200 labelled events, 15 labelled positives, 13 predicted positives.
  v1::WindowSummary s = Confusion(10, 5, 3, 182);
  v1::PerformanceSummary* perf = s.mutable_performance();
  v1::BinnedCounts* negatives = perf->add_score_by_label();
  v1::BinnedCounts* positives = perf->add_score_by_label();
  for (uint64_t c : {150, 35}) negatives->add_counts(c);
  for (uint64_t c : {3, 12}) positives->add_counts(c);
  auto values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  auto expect = [&](const char* metric, v1::EvidenceState state, uint64_t n) {
    const v1::MetricValue* v = Find(values, metric);
    ASSERT_NE(v, nullptr) << metric;
    EXPECT_EQ(v->state(), state) << metric;
    EXPECT_EQ(v->sample_size(), n) << metric;
    if (state == v1::EVIDENCE_STATE_INSUFFICIENT) {
      EXPECT_TRUE(std::isnan(v->value())) << metric;
    }
  };
  expect("accuracy", v1::EVIDENCE_STATE_OK, 200);
  expect("f1_macro", v1::EVIDENCE_STATE_OK, 200);
  expect("precision", v1::EVIDENCE_STATE_INSUFFICIENT, 13);
  expect("recall", v1::EVIDENCE_STATE_INSUFFICIENT, 15);
  expect("f1", v1::EVIDENCE_STATE_INSUFFICIENT, 18);       // TP + FP + FN
  expect("roc_auc", v1::EVIDENCE_STATE_INSUFFICIENT, 15);  // the positives
  // Enough positives: each on its own count.
  s = Confusion(40, 5, 3, 152);
  values = PerformanceMetrics(s, MetricOptions(), absl::Seconds(10));
  expect("precision", v1::EVIDENCE_STATE_OK, 43);
  expect("recall", v1::EVIDENCE_STATE_OK, 45);
  expect("f1", v1::EVIDENCE_STATE_OK, 48);
  EXPECT_NEAR(Find(values, "recall")->value(), 40.0 / 45, 1e-12);
  // No predicted positive: precision has a zero denominator.
  values = PerformanceMetrics(Confusion(0, 45, 0, 155), MetricOptions(),
                              absl::Seconds(10));
  expect("precision", v1::EVIDENCE_STATE_NOT_APPLICABLE, 0);
}

// Two groups; counts per group: events, predicted positive, TP, FN, FP, TN
// (every event labelled).
v1::WindowSummary TwoGroups(std::array<uint64_t, 5> f,
                            std::array<uint64_t, 5> m) {
  v1::WindowSummary s;
  v1::AttributeSummary* a = s.add_attributes();
  a->set_attribute("gender");
  for (const auto& [name, c] : {std::pair{"f", f}, std::pair{"m", m}}) {
    v1::GroupCounts* g = a->add_groups();
    g->set_group(name);
    g->set_true_positive(c[0]);
    g->set_false_negative(c[1]);
    g->set_false_positive(c[2]);
    g->set_true_negative(c[3]);
    g->set_n(c[0] + c[1] + c[2] + c[3] + c[4]);  // c[4]: unlabelled
    g->set_labelled(c[0] + c[1] + c[2] + c[3]);
    g->set_predicted_positive(c[0] + c[2]);
  }
  return s;
}

TEST(MetricEngineTest, FairnessFromOneLabelledPositiveIsInsufficient) {
  // f: 100 events but a single labelled positive (predicted positive).
  const auto values = FairnessMetrics(
      TwoGroups({1, 0, 20, 79, 0}, {30, 10, 10, 50, 0}), MetricOptions());
  const v1::MetricValue* tpr = Find(values, "true_positive_rate", "f");
  EXPECT_EQ(tpr->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_EQ(tpr->sample_size(), 1u);
  const v1::MetricValue* eo = Find(values, "equal_opportunity_difference");
  EXPECT_EQ(eo->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(eo->value()));
  EXPECT_EQ(eo->sample_size(), 1u);  // the best pair's smaller count
  EXPECT_EQ(Find(values, "equalized_odds_difference")->state(),
            v1::EVIDENCE_STATE_INSUFFICIENT);
  // Predicted positives: f has 21, below 30.
  EXPECT_EQ(Find(values, "predictive_parity_difference")->state(),
            v1::EVIDENCE_STATE_INSUFFICIENT);
  // Events and labelled negatives are plenty.
  const v1::MetricValue* dp = Find(values, "demographic_parity_difference");
  EXPECT_EQ(dp->state(), v1::EVIDENCE_STATE_OK);
  EXPECT_EQ(dp->sample_size(), 100u);
  EXPECT_EQ(Find(values, "false_positive_rate", "f")->sample_size(), 99u);
}

TEST(MetricEngineTest, GapSampleSizesAreTheSmallerGroupsCount) {
  // f: 60 TP, 40 FN, 30 FP, 270 TN, 100 unlabelled; m: 45, 5, 20, 130, 0.
  const auto values = FairnessMetrics(
      TwoGroups({60, 40, 30, 270, 100}, {45, 5, 20, 130, 0}), MetricOptions());
  auto n = [&](const char* metric) {
    const v1::MetricValue* v = Find(values, metric);
    EXPECT_EQ(v->state(), v1::EVIDENCE_STATE_OK) << metric;
    return v->sample_size();
  };
  EXPECT_EQ(n("demographic_parity_difference"), 200u);  // events
  EXPECT_EQ(n("demographic_parity_ratio"), 200u);
  EXPECT_EQ(n("equal_opportunity_difference"), 50u);  // labelled positives
  EXPECT_EQ(n("predictive_parity_difference"), 65u);  // predicted positives
  EXPECT_EQ(n("equalized_odds_difference"), 50u);     // min(TPR 50, FPR 150)
  EXPECT_EQ(Find(values, "selection_rate", "f")->sample_size(), 500u);
  EXPECT_EQ(Find(values, "true_positive_rate", "m")->sample_size(), 50u);
  EXPECT_EQ(Find(values, "false_positive_rate", "m")->sample_size(), 150u);
  EXPECT_EQ(Find(values, "precision", "f")->sample_size(), 90u);
}

TEST(MetricEngineTest, EqualizedOddsIntervalFromBothGaps) {
  // TPR 0.6 vs 0.9 (gap 0.3), FPR 0.1 vs 0.1333 (gap 0.033).
  const auto values = FairnessMetrics(
      TwoGroups({60, 40, 30, 270, 0}, {90, 10, 20, 130, 0}), MetricOptions());
  const v1::MetricValue* eo = Find(values, "equalized_odds_difference");
  ASSERT_EQ(eo->state(), v1::EVIDENCE_STATE_OK);
  EXPECT_NEAR(eo->value(), 0.3, 1e-12);
  EXPECT_EQ(eo->group(), "m vs f");
  // The TPR gap binds: its Newcombe interval at 97.5 %.
  const Interval tpr = NewcombeDifference(0.9, WilsonInterval(90, 100, kZ975),
                                          0.6, WilsonInterval(60, 100, kZ975));
  EXPECT_NEAR(eo->ci_low(), tpr.low, 1e-12);
  EXPECT_NEAR(eo->ci_high(), tpr.high, 1e-12);
  // Wider than the equal-opportunity gap's own 95 % interval.
  const v1::MetricValue* gap = Find(values, "equal_opportunity_difference");
  EXPECT_LT(eo->ci_low(), gap->ci_low());
  EXPECT_GT(eo->ci_high(), gap->ci_high());
}

// Equalized odds' interval holds the true value (max(|TPR gap|, |FPR gap|))
// in at least 95 % of simulated windows, also when the two gaps are close.
TEST(MetricEngineTest, EqualizedOddsIntervalCoverage) {
  std::mt19937_64 rng(20260523);
  for (const auto& [tpr_f, tpr_m, fpr_f, fpr_m] :
       {std::array<double, 4>{0.8, 0.7, 0.1, 0.2},
        std::array<double, 4>{0.8, 0.8, 0.1, 0.1},
        std::array<double, 4>{0.8, 0.75, 0.1, 0.12}}) {
    const double truth =
        std::max(std::fabs(tpr_f - tpr_m), std::fabs(fpr_f - fpr_m));
    int missed = 0;
    constexpr int kWindows = 2000;
    for (int w = 0; w < kWindows; ++w) {
      auto draw = [&](double p) {
        return std::binomial_distribution<uint64_t>(200, p)(rng);
      };
      const uint64_t tp_f = draw(tpr_f), tp_m = draw(tpr_m);
      const uint64_t fp_f = draw(fpr_f), fp_m = draw(fpr_m);
      const auto values =
          FairnessMetrics(TwoGroups({tp_f, 200 - tp_f, fp_f, 200 - fp_f, 0},
                                    {tp_m, 200 - tp_m, fp_m, 200 - fp_m, 0}),
                          MetricOptions());
      const v1::MetricValue* eo = Find(values, "equalized_odds_difference");
      if (truth < eo->ci_low() || truth > eo->ci_high()) ++missed;
    }
    std::printf("equalized odds %.2f: interval missed %.3f of windows\n", truth,
                double(missed) / kWindows);
    EXPECT_LE(missed, 0.05 * kWindows) << tpr_f << " " << tpr_m;
  }
}

// Deciles of N(0, 1) with 20,000 reference rows (see wasserstein_test.cc).
const std::vector<double> kEdges = {-3.9,    -1.2816, -0.8416, -0.5244,
                                    -0.2533, 0,       0.2533,  0.5244,
                                    0.8416,  1.2816,  3.9};

// Counts of n values of N(shift, 1) on kEdges' bins (rounded expectations,
// the rounding's remainder in the overflow bin).
std::vector<uint64_t> NormalCounts(uint64_t n, double shift) {
  std::vector<uint64_t> counts;
  double below = 0;
  uint64_t total = 0;
  for (double e : kEdges) {
    const double cdf = NormalCdf(e - shift);
    counts.push_back(std::llround(n * (cdf - below)));
    total += counts.back();
    below = cdf;
  }
  counts.push_back(n - total);
  return counts;
}

// A profile of `features` numeric features on kEdges (reference N(0, 1))
// and a window whose feature i has counts `window(i)`.
std::pair<v1::ReferenceProfile, v1::WindowSummary> Drifted(
    int features, const std::function<std::vector<uint64_t>(int)>& window) {
  v1::ReferenceProfile profile;
  profile.set_profile_id("p");
  v1::WindowSummary s;
  s.set_profile_id("p");
  for (int i = 0; i < features; ++i) {
    const std::string name = absl::StrCat("f", i < 10 ? "0" : "", i);
    v1::FeatureProfile* f = profile.add_features();
    f->set_name(name);
    f->set_kind(v1::FeatureProfile::KIND_NUMERIC);
    for (double e : kEdges) f->add_edges(e);
    for (uint64_t c :
         {0, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 0}) {
      f->mutable_reference_counts()->add_counts(c);
    }
    f->set_stddev(1);
    v1::FeatureSummary* fs = s.add_features();
    fs->set_name(name);
    for (uint64_t c : window(i)) fs->mutable_histogram()->add_counts(c);
  }
  return {profile, s};
}

// The shift of N(0, 1) whose counts are at `psi` from the reference's.
double ShiftForPsi(double psi) {
  const std::vector<double> ref = {0,    2000, 2000, 2000, 2000, 2000,
                                   2000, 2000, 2000, 2000, 2000, 0};
  double lo = 0, hi = 3;
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    const std::vector<uint64_t> c = NormalCounts(1000000, mid);
    const double d = CompareHistograms(
                         ref, std::vector<double>(c.begin(), c.end()), {}, 1e-4)
                         .psi;
    (d < psi ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(MetricEngineTest, DriftValuesCarrySizesAndIntervals) {
  auto [profile, s] = Drifted(1, [](int) { return NormalCounts(5000, 0.3); });
  const auto values = DriftMetrics(s, profile, MetricOptions());
  for (const char* metric : {"psi", "js_distance", "hellinger", "chi_squared",
                             "ks_statistic", "wasserstein_norm"}) {
    const v1::MetricValue* v = Find(values, metric);
    ASSERT_NE(v, nullptr) << metric;
    EXPECT_EQ(v->state(), v1::EVIDENCE_STATE_OK) << metric;
    EXPECT_EQ(v->sample_size(), 5000u) << metric;
    EXPECT_EQ(v->reference_size(), 20000u) << metric;
    EXPECT_EQ(v->bins(), 11u) << metric;  // one value over the maximum
    if (std::string(metric) != "chi_squared") {
      EXPECT_LT(v->ci_low(), v->ci_high()) << metric;
      EXPECT_GT(v->ci_low(), 0) << metric;  // a 0.3 sigma shift is shown
    }
  }
  // Too few values: insufficient, still with the reference's size.
  auto [p2, few] = Drifted(1, [](int) { return NormalCounts(20, 0); });
  const std::vector<v1::MetricValue> few_values =
      DriftMetrics(few, p2, MetricOptions());
  const v1::MetricValue* psi = Find(few_values, "psi");
  ASSERT_NE(psi, nullptr);
  EXPECT_EQ(psi->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_EQ(psi->reference_size(), 20000u);
}

TEST(MetricEngineTest, DriftedFeatureShareCountsEffectsNotPValues) {
  // 25 features each shifted by 0.045 sigma (PSI 0.002) in a window of
  // 200,000 events: every test rejects, no effect is shown.
  auto [profile, big] =
      Drifted(25, [](int) { return NormalCounts(200000, 0.045); });
  auto values = DriftMetrics(big, profile, MetricOptions());
  for (const v1::MetricValue& v : values) {
    if (v.metric() == "psi") {
      EXPECT_NEAR(v.value(), 0.002, 0.0005);
    }
    if (v.metric() == "ks_statistic") {
      EXPECT_LT(v.p_value(), 1e-3);
    }
  }
  const v1::MetricValue* share = Find(values, "drifted_feature_share");
  EXPECT_EQ(share->value(), 0.0);
  EXPECT_EQ(share->sample_size(), 25u);
  // One feature shifted to PSI 0.3 in 5000 events: shown, counted.
  auto [p2, one] = Drifted(25, [](int i) {
    return NormalCounts(5000, i == 7 ? ShiftForPsi(0.3) : 0);
  });
  values = DriftMetrics(one, p2, MetricOptions());
  EXPECT_NEAR(Find(values, "psi", "")->value(), 0, 0.001);  // f00
  share = Find(values, "drifted_feature_share");
  EXPECT_NEAR(share->value(), 1.0 / 25, 1e-12);
  EXPECT_EQ(share->sample_size(), 25u);
  // The same drift in the model's predictions is no input feature: its PSI
  // is computed, the share counts the 24 inputs, none drifted.
  p2.mutable_features(7)->set_name(std::string(kPredictionFeature));
  one.mutable_features(7)->set_name(std::string(kPredictionFeature));
  values = DriftMetrics(one, p2, MetricOptions());
  const auto psi = std::find_if(values.begin(), values.end(), [](auto& v) {
    return v.metric() == "psi" && v.feature() == kPredictionFeature;
  });
  ASSERT_NE(psi, values.end());
  EXPECT_GT(psi->ci_low(), 0.1);
  share = Find(values, "drifted_feature_share");
  EXPECT_EQ(share->value(), 0.0);
  EXPECT_EQ(share->sample_size(), 24u);
}

TEST(StatisticsTest, KnownValues) {
  // scipy.stats.chi2.sf(3.0, 1), kstwobign.sf(0.5), kstwobign.sf(1.5)
  EXPECT_NEAR(ChiSquaredSurvival(3.0, 1), 0.08326451666355042, 1e-15);
  EXPECT_NEAR(KolmogorovSurvival(0.5), 0.9639452436648751, 1e-15);
  EXPECT_NEAR(KolmogorovSurvival(1.5), 0.022217962616525127, 1e-15);
  EXPECT_EQ(ChiSquaredSurvival(0, 3), 1.0);
  const Interval ci = WilsonInterval(0, 10);
  EXPECT_EQ(ci.low, 0.0);
  EXPECT_NEAR(ci.high, 0.27753279986288993, 1e-12);  // binomtest(0,10) wilson
  EXPECT_TRUE(std::isnan(WilsonInterval(0, 0).low));
}

}  // namespace
}  // namespace aims

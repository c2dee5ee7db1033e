#include "common/summary/metric_engine.h"

#include <cmath>

#include "common/summary/statistics.h"
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
                                        BinPositions({1, 2, 3}), 1e-4);
  EXPECT_NEAR(d.psi, 0, 1e-12);
  EXPECT_NEAR(d.js_distance, 0, 1e-7);
  EXPECT_NEAR(d.hellinger, 0, 1e-7);
  EXPECT_NEAR(d.ks_statistic, 0, 1e-12);
  EXPECT_NEAR(d.chi_squared, 0, 1e-12);
  EXPECT_NEAR(d.chi_squared_p, 1, 1e-12);
  EXPECT_NEAR(d.wasserstein, 0, 1e-12);
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

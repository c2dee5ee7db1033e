// Which values an objective judges, what they say, and the names of its
// series (the evaluator's own tests cover the coverage metrics end to end).
#include "collector/evaluation/objective_series.h"

#include <limits>

#include "gtest/gtest.h"

namespace aims::collector {
namespace {

Objective ParityObjective() {
  Objective o;
  o.id = "parity";
  o.metric = "demographic_parity_ratio";
  o.attribute = "gender";
  o.comparator = Comparator::kGreaterEqual;
  o.threshold = 0.8;
  o.min_samples = 50;
  return o;
}

v1::MetricValue Value(double value, uint64_t n) {
  v1::MetricValue v;
  v.set_metric("demographic_parity_ratio");
  v.set_attribute("gender");
  v.set_value(value);
  v.set_sample_size(n);
  v.set_state(v1::EVIDENCE_STATE_OK);
  return v;
}

v1::ModelRef Credit() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

TEST(ObjectiveSeriesTest, VerdictOfAValue) {
  const Objective o = ParityObjective();
  EXPECT_EQ(VerdictOf(o, Value(0.9, 50)), Verdict::kHolds);
  EXPECT_EQ(VerdictOf(o, Value(0.8, 50)), Verdict::kHolds);
  EXPECT_EQ(VerdictOf(o, Value(0.5, 50)), Verdict::kBreached);
  // Fewer samples than min_samples, not finite, or not OK: no verdict
  // either way, whatever the value.
  EXPECT_EQ(VerdictOf(o, Value(0.5, 49)), Verdict::kInsufficientEvidence);
  EXPECT_EQ(VerdictOf(o, Value(std::numeric_limits<double>::quiet_NaN(), 50)),
            Verdict::kInsufficientEvidence);
  v1::MetricValue not_applicable = Value(0.5, 50);
  not_applicable.set_state(v1::EVIDENCE_STATE_NOT_APPLICABLE);
  EXPECT_EQ(VerdictOf(o, not_applicable), Verdict::kInsufficientEvidence);
}

TEST(ObjectiveSeriesTest, JudgesItsMetricWithinItsFiltersAndNamesTheSeries) {
  const Objective o = ParityObjective();
  const MetricScope scope = SeriesScope(o);
  EXPECT_EQ(scope, MetricScope::kAttribute);
  EXPECT_TRUE(JudgedBy(o, scope, Value(0.5, 50)));
  v1::MetricValue other_attribute = Value(0.5, 50);
  other_attribute.set_attribute("age");
  EXPECT_FALSE(JudgedBy(o, scope, other_attribute));
  v1::MetricValue other_metric = Value(0.5, 50);
  other_metric.set_metric("demographic_parity_difference");
  EXPECT_FALSE(JudgedBy(o, scope, other_metric));
  EXPECT_EQ(SeriesName(Credit(), scope, Value(0.5, 50)),
            "credit/v1/prod attribute=gender");

  Objective precision = ParityObjective();
  precision.metric = "precision";
  EXPECT_EQ(SeriesScope(precision), MetricScope::kGroup);
  precision.attribute.clear();
  EXPECT_EQ(SeriesScope(precision), MetricScope::kModel);
}

TEST(ObjectiveSeriesTest, NamedSeriesWithoutValueOnlyForOneNamedSeries) {
  Objective o = ParityObjective();
  std::optional<v1::MetricValue> named =
      NamedSeriesWithoutValue(o, SeriesScope(o));
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_EQ(named->attribute(), "gender");
  EXPECT_EQ(SeriesName(Credit(), SeriesScope(o), *named),
            "credit/v1/prod attribute=gender");
  // Every attribute: no one series to stand in for.
  o.attribute.clear();
  EXPECT_FALSE(NamedSeriesWithoutValue(o, SeriesScope(o)).has_value());
}

}  // namespace
}  // namespace aims::collector

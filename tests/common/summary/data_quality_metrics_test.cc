// DataQualityMetrics on summaries folded by the real WindowAccumulator: each
// rate over the count it can happen to, Wilson intervals, the minimum count,
// profile features the window never carried, and the worst over features.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common/summary/metric_engine.h"
#include "common/summary/statistics.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

std::shared_ptr<v1::ReferenceProfile> Profile() {
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("p1");
  v1::FeatureProfile* age = profile->add_features();
  age->set_name("age");
  age->set_kind(v1::FeatureProfile::KIND_NUMERIC);
  for (double e : {20.0, 40.0, 60.0}) age->add_edges(e);
  age->set_min(18);
  age->set_max(90);
  v1::FeatureProfile* city = profile->add_features();
  city->set_name("city");
  city->set_kind(v1::FeatureProfile::KIND_CATEGORICAL);
  city->add_categories("paris");
  city->add_categories("rome");
  v1::FeatureProfile* income = profile->add_features();
  income->set_name("income");
  income->set_kind(v1::FeatureProfile::KIND_NUMERIC);
  income->add_edges(1000);
  income->set_min(0);
  income->set_max(5000);
  return profile;
}

const v1::MetricValue* Find(const std::vector<v1::MetricValue>& values,
                            const std::string& metric,
                            const std::string& feature) {
  for (const auto& v : values) {
    if (v.metric() == metric && v.feature() == feature) return &v;
  }
  return nullptr;
}

// 100 events: age missing in 10, a string in 5 of the 90 present, out of
// range in 17 of the 85 numbers; city unseen in 20 of 100; income never
// sent.
v1::WindowSummary Window(std::shared_ptr<v1::ReferenceProfile> profile) {
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::move(profile);
  WindowAccumulator acc(config);
  for (int i = 0; i < 100; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = 1;
    if (i >= 10) {
      FeatureValue age{FeatureValue::Kind::kNumber, i < 27 ? 99.0 : 30.0, ""};
      if (i >= 95) age = {FeatureValue::Kind::kCategory, 0, "thirty"};
      e.features.emplace_back("age", age);
    }
    e.features.emplace_back("city", FeatureValue{FeatureValue::Kind::kCategory,
                                                 0, i < 20 ? "oslo" : "rome"});
    acc.Add(e);
  }
  return acc.Build();
}

TEST(DataQualityMetricsTest, EachRateCountsWhatItCanHappenTo) {
  const auto profile = Profile();
  const auto values =
      DataQualityMetrics(Window(profile), profile.get(), MetricOptions());
  struct Want {
    const char* metric;
    const char* feature;
    uint64_t k, n;
  };
  for (const Want& w :
       std::vector<Want>{{"missing_rate", "age", 10, 100},
                         {"type_mismatch_rate", "age", 5, 90},
                         {"out_of_range_rate", "age", 17, 85},
                         {"missing_rate", "city", 0, 100},
                         {"unseen_category_rate", "city", 20, 100},
                         {"missing_rate", "income", 100, 100}}) {
    SCOPED_TRACE(std::string(w.metric) + " " + w.feature);
    const v1::MetricValue* v = Find(values, w.metric, w.feature);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->state(), v1::EVIDENCE_STATE_OK);
    EXPECT_EQ(v->sample_size(), w.n);
    EXPECT_DOUBLE_EQ(v->value(), static_cast<double>(w.k) / w.n);
    const Interval ci = WilsonInterval(w.k, w.n);
    EXPECT_DOUBLE_EQ(v->ci_low(), ci.low);
    EXPECT_DOUBLE_EQ(v->ci_high(), ci.high);
  }
  // Only numeric features can be out of range, only categorical ones unseen;
  // the prediction is not an input.
  EXPECT_EQ(Find(values, "unseen_category_rate", "age"), nullptr);
  EXPECT_EQ(Find(values, "out_of_range_rate", "city"), nullptr);
  EXPECT_EQ(Find(values, "missing_rate", std::string(kPredictionFeature)),
            nullptr);
  // A feature never sent has no present values: its other rates do not apply.
  const v1::MetricValue* income = Find(values, "type_mismatch_rate", "income");
  ASSERT_NE(income, nullptr);
  EXPECT_EQ(income->state(), v1::EVIDENCE_STATE_NOT_APPLICABLE);
  EXPECT_TRUE(std::isnan(income->value()));
}

TEST(DataQualityMetricsTest, WorstIsTheHighestRateWithEvidence) {
  const auto profile = Profile();
  const auto values =
      DataQualityMetrics(Window(profile), profile.get(), MetricOptions());
  const v1::MetricValue* missing = Find(values, "worst_missing_rate", "");
  ASSERT_NE(missing, nullptr);
  EXPECT_DOUBLE_EQ(missing->value(), 1.0);  // income
  EXPECT_EQ(missing->sample_size(), 100u);
  const v1::MetricValue* range = Find(values, "worst_out_of_range_rate", "");
  ASSERT_NE(range, nullptr);
  EXPECT_DOUBLE_EQ(range->value(), 0.2);  // age, 17 / 85
  EXPECT_EQ(range->sample_size(), 85u);
  EXPECT_DOUBLE_EQ(range->ci_low(), WilsonInterval(17, 85).low);
}

TEST(DataQualityMetricsTest, TooFewValuesIsInsufficient) {
  const auto profile = Profile();
  MetricOptions options;
  options.min_quality_samples = 86;  // age has 85 finite numbers
  const auto values =
      DataQualityMetrics(Window(profile), profile.get(), options);
  const v1::MetricValue* v = Find(values, "out_of_range_rate", "age");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(v->value()));
  EXPECT_EQ(v->sample_size(), 85u);
  // No feature has enough finite numbers: the worst does not apply.
  const v1::MetricValue* worst = Find(values, "worst_out_of_range_rate", "");
  ASSERT_NE(worst, nullptr);
  EXPECT_EQ(worst->state(), v1::EVIDENCE_STATE_NOT_APPLICABLE);
}

TEST(DataQualityMetricsTest, WithoutAProfileMissingAndTypeOnly) {
  const auto values =
      DataQualityMetrics(Window(nullptr), nullptr, MetricOptions());
  ASSERT_NE(Find(values, "missing_rate", "age"), nullptr);
  ASSERT_NE(Find(values, "type_mismatch_rate", "age"), nullptr);
  EXPECT_EQ(Find(values, "out_of_range_rate", "age"), nullptr);
  EXPECT_EQ(Find(values, "unseen_category_rate", "city"), nullptr);
  EXPECT_EQ(Find(values, "missing_rate", "income"), nullptr);
}

}  // namespace
}  // namespace aims

#include "common/summary/window_accumulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace aims {
namespace {

Event Binary(double score, int label, const std::string& gender) {
  Event e;
  e.score = score;
  e.prediction.kind = Outcome::Kind::kNumber;
  e.prediction.number = score >= 0.5 ? 1 : 0;
  if (label >= 0) {
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = label;
  }
  if (!gender.empty()) e.attributes.emplace_back("gender", gender);
  FeatureValue age;
  age.kind = FeatureValue::Kind::kNumber;
  age.number = 30 + score * 10;
  e.features.emplace_back("age", age);
  e.latency_seconds = 0.01;
  return e;
}

const v1::FeatureSummary* FindFeature(const v1::WindowSummary& s,
                                      absl::string_view name) {
  for (const auto& f : s.features()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

TEST(WindowAccumulatorTest, CountsConfusionAndFairness) {
  auto config = std::make_shared<SummaryConfig>();
  WindowAccumulator acc(config);
  // f: TP, FP, TN ; m: FN, TP, unlabelled positive.
  acc.Add(Binary(0.9, 1, "f"));
  acc.Add(Binary(0.7, 0, "f"));
  acc.Add(Binary(0.2, 0, "f"));
  acc.Add(Binary(0.3, 1, "m"));
  acc.Add(Binary(0.8, 1, "m"));
  acc.Add(Binary(0.6, -1, "m"));
  Event failed;
  failed.error = true;
  acc.Add(failed);
  const v1::WindowSummary s = acc.Build();
  EXPECT_EQ(s.operational().event_count(), 7u);
  EXPECT_EQ(s.operational().error_count(), 1u);
  EXPECT_EQ(s.operational().latency_seconds().count(), 6u);
  EXPECT_EQ(s.performance().labelled_count(), 5u);
  const v1::ConfusionMatrix& cm = s.performance().confusion();
  ASSERT_EQ(cm.classes_size(), 2);
  // Classes in order of first sight: "1" then "0".
  EXPECT_EQ(cm.classes(0), "1");
  EXPECT_EQ(cm.classes(1), "0");
  // [actual][predicted]: (1,1)=2 TP, (1,0)=1 FN, (0,1)=1 FP, (0,0)=1 TN.
  EXPECT_EQ(cm.counts(0), 2u);
  EXPECT_EQ(cm.counts(1), 1u);
  EXPECT_EQ(cm.counts(2), 1u);
  EXPECT_EQ(cm.counts(3), 1u);
  EXPECT_EQ(s.performance().probability().n(), 5u);

  ASSERT_EQ(s.attributes_size(), 1);
  const v1::AttributeSummary& gender = s.attributes(0);
  EXPECT_EQ(gender.missing(), 1u);  // the failed event had no attributes
  ASSERT_EQ(gender.groups_size(), 2);
  const v1::GroupCounts& f = gender.groups(0);
  EXPECT_EQ(f.group(), "f");
  EXPECT_EQ(f.n(), 3u);
  EXPECT_EQ(f.predicted_positive(), 2u);
  EXPECT_EQ(f.true_positive(), 1u);
  EXPECT_EQ(f.false_positive(), 1u);
  EXPECT_EQ(f.true_negative(), 1u);
  const v1::GroupCounts& m = gender.groups(1);
  EXPECT_EQ(m.n(), 3u);
  EXPECT_EQ(m.labelled(), 2u);
  EXPECT_EQ(m.false_negative(), 1u);
  EXPECT_EQ(m.predicted_positive(), 2u);

  const v1::FeatureSummary* age = FindFeature(s, "age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->n(), 6u);
  EXPECT_EQ(age->quality().missing(), 1u);
  const v1::FeatureSummary* pred = FindFeature(s, kPredictionFeature);
  ASSERT_NE(pred, nullptr);
  EXPECT_EQ(pred->n(), 6u);  // the score, for binary tasks
}

TEST(WindowAccumulatorTest, LogLossAndBrierSums) {
  auto config = std::make_shared<SummaryConfig>();
  WindowAccumulator acc(config);
  acc.Add(Binary(0.8, 1, ""));
  acc.Add(Binary(0.4, 0, ""));
  const v1::ProbabilitySums p = acc.Build().performance().probability();
  EXPECT_NEAR(p.sum_log_loss(), -std::log(0.8) - std::log(0.6), 1e-12);
  // Two-class Brier as sklearn's multi-class form: sum over both classes.
  EXPECT_NEAR(p.sum_brier(), 2 * 0.04 + 2 * 0.16, 1e-12);
}

TEST(WindowAccumulatorTest, RegressionSums) {
  auto config = std::make_shared<SummaryConfig>();
  config->task = v1::TASK_TYPE_REGRESSION;
  WindowAccumulator acc(config);
  for (auto [pred, label] : {std::pair{3.0, 2.0}, {1.0, 2.0}, {5.0, 0.0}}) {
    Event e;
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = pred;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = label;
    acc.Add(e);
  }
  const v1::RegressionSums r = acc.Build().performance().regression();
  EXPECT_EQ(r.n(), 3u);
  EXPECT_DOUBLE_EQ(r.sum_abs_error(), 1 + 1 + 5);
  EXPECT_DOUBLE_EQ(r.sum_squared_error(), 1 + 1 + 25);
  EXPECT_EQ(r.n_nonzero_label(), 2u);
  EXPECT_DOUBLE_EQ(r.sum_abs_percentage_error(), 0.5 + 0.5);
}

TEST(WindowAccumulatorTest, DataQualityAndTypeMismatch) {
  auto config = std::make_shared<SummaryConfig>();
  WindowAccumulator acc(config);
  auto add = [&](FeatureValue v) {
    Event e;
    e.features.emplace_back("x", v);
    acc.Add(e);
  };
  FeatureValue num{FeatureValue::Kind::kNumber, 1.5, ""};
  FeatureValue nan{FeatureValue::Kind::kNumber, std::nan(""), ""};
  FeatureValue text{FeatureValue::Kind::kCategory, 0, "abc"};
  FeatureValue missing;
  add(num);
  add(nan);
  add(text);
  add(missing);
  const v1::WindowSummary summary = acc.Build();
  const v1::FeatureSummary* x = FindFeature(summary, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->n(), 1u);
  EXPECT_EQ(x->quality().non_finite(), 1u);
  EXPECT_EQ(x->quality().wrong_type(), 1u);
  EXPECT_EQ(x->quality().missing(), 1u);
}

TEST(WindowAccumulatorTest, MemoryStaysBoundedByLimits) {
  auto config = std::make_shared<SummaryConfig>();
  config->max_features = 10;
  config->max_groups_per_attribute = 5;
  config->max_classes = 4;
  WindowAccumulator acc(config);
  for (int i = 0; i < 1000; ++i) {
    Event e;
    FeatureValue v{FeatureValue::Kind::kNumber, 1.0, ""};
    e.features.emplace_back("f" + std::to_string(i), v);
    e.attributes.emplace_back("zip", std::to_string(i));
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = "c" + std::to_string(i % 50);
    e.label = e.prediction;
    acc.Add(e);
  }
  const v1::WindowSummary s = acc.Build();
  EXPECT_EQ(s.features_size(), 10);
  EXPECT_EQ(s.operational().rejected_by_reason().at("feature_limit"), 991u);
  ASSERT_EQ(s.attributes_size(), 1);
  EXPECT_EQ(s.attributes(0).groups_size(), 5);
  EXPECT_EQ(s.attributes(0).groups(0).group(), "0");
  uint64_t total = 0;
  for (const auto& g : s.attributes(0).groups()) total += g.n();
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(s.performance().confusion().classes_size(), 4);
  EXPECT_EQ(s.performance().confusion().classes(3), kOtherBucket);
  // Every value beyond a limit is counted: 991 feature values dropped, 996
  // groups folded (4 real groups + __other__), and of the 50 classes the
  // ones beyond the first 3 fold, both as prediction and as label.
  EXPECT_EQ(acc.overflows().features, 991u);
  EXPECT_EQ(acc.overflows().groups, 996u);
  uint64_t folded = 0;
  for (int i = 0; i < 1000; ++i) folded += (i % 50) >= 3 ? 2 : 0;
  EXPECT_EQ(acc.overflows().classes, folded);
  EXPECT_EQ(acc.overflows().attributes, 0u);
}

TEST(WindowAccumulatorTest, AttributesBeyondTheLimitAreDroppedAndCounted) {
  auto config = std::make_shared<SummaryConfig>();
  config->max_attributes = 2;
  WindowAccumulator acc(config);
  for (int i = 0; i < 10; ++i) {
    Event e = Binary(0.9, 1, "");
    for (const char* a : {"a", "b", "c", "d"})
      e.attributes.emplace_back(a, "x");
    acc.Add(e);
  }
  const v1::WindowSummary s = acc.Build();
  ASSERT_EQ(s.attributes_size(), 2);
  EXPECT_EQ(s.attributes(0).attribute(), "a");
  EXPECT_EQ(s.attributes(1).attribute(), "b");
  EXPECT_EQ(acc.overflows().attributes, 20u);
  LimitOverflows before;
  before.attributes = 5;
  EXPECT_EQ((acc.overflows() - before).attributes, 15u);
}

TEST(WindowAccumulatorTest, NonFiniteFeatureValuesAreDataQuality) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (double v : {1.0, std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity(), 2.0}) {
    Event e;
    e.features.emplace_back("x",
                            FeatureValue{FeatureValue::Kind::kNumber, v, ""});
    acc.Add(e);
  }
  const v1::WindowSummary s = acc.Build();
  const v1::FeatureSummary* x = FindFeature(s, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->quality().non_finite(), 2u);
  EXPECT_EQ(x->n(), 2u);
  EXPECT_DOUBLE_EQ(x->sum(), 3.0);
  EXPECT_EQ(x->sketch().count(), 2u);
}

TEST(WindowAccumulatorTest, BinsOnTheReferenceProfile) {
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
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  WindowAccumulator acc(config);
  for (double a : {10.0, 20.0, 39.9, 59.0, 95.0}) {
    Event e;
    e.features.emplace_back("age",
                            FeatureValue{FeatureValue::Kind::kNumber, a, ""});
    e.features.emplace_back("city", FeatureValue{FeatureValue::Kind::kCategory,
                                                 0, a > 50 ? "oslo" : "rome"});
    acc.Add(e);
  }
  const v1::WindowSummary s = acc.Build();
  EXPECT_EQ(s.profile_id(), "p1");
  const v1::FeatureSummary* a = FindFeature(s, "age");
  ASSERT_EQ(a->histogram().counts_size(), 4);
  EXPECT_EQ(a->histogram().counts(0), 1u);  // 10 < 20
  EXPECT_EQ(a->histogram().counts(1), 2u);  // [20, 40)
  EXPECT_EQ(a->histogram().counts(2), 1u);  // [40, 60)
  EXPECT_EQ(a->histogram().counts(3), 1u);  // >= 60
  EXPECT_EQ(a->quality().out_of_range(), 2u);
  const v1::FeatureSummary* c = FindFeature(s, "city");
  ASSERT_EQ(c->histogram().counts_size(), 3);
  EXPECT_EQ(c->histogram().counts(1), 3u);
  EXPECT_EQ(c->histogram().counts(2), 2u);  // other
  EXPECT_EQ(c->quality().unseen_category(), 2u);
}

// The bin of every value is the number of edges <= it, for any number of
// edges (the SSE2 count, its scalar tail and the binary search beyond 256
// edges): values on, between and beyond the edges, and infinities, which
// are counted as non-finite and never binned.
TEST(WindowAccumulatorTest, NumericBinIsTheCountOfEdgesAtMost) {
  for (int edges : {0, 1, 2, 3, 5, 10, 65, 100, 256, 300}) {
    auto profile = std::make_shared<v1::ReferenceProfile>();
    v1::FeatureProfile* x = profile->add_features();
    x->set_name("x");
    x->set_kind(v1::FeatureProfile::KIND_NUMERIC);
    for (int i = 0; i < edges; ++i) x->add_edges(i * 0.5);
    x->set_min(0);
    x->set_max(edges * 0.5);
    auto config = std::make_shared<SummaryConfig>();
    config->profile = profile;
    WindowAccumulator acc(config);
    std::vector<uint64_t> expected(edges + 1, 0);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> values = {-1e300, -0.0, -inf, inf, 1e300, std::nan("")};
    for (int i = -2; i <= 2 * edges + 2; ++i) {
      values.push_back(i * 0.25);  // on an edge every other value
      values.push_back(std::nextafter(i * 0.5, -1e9));
    }
    for (double v : values) {
      Event e;
      e.features.emplace_back("x",
                              FeatureValue{FeatureValue::Kind::kNumber, v, ""});
      acc.Add(e);
      if (!std::isfinite(v)) continue;
      size_t bin = 0;
      for (int i = 0; i < edges; ++i) bin += i * 0.5 <= v;
      ++expected[bin];
    }
    const v1::WindowSummary s = acc.Build();
    const v1::FeatureSummary* f = FindFeature(s, "x");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->quality().non_finite(), 3u);
    ASSERT_EQ(f->histogram().counts_size(), edges + 1);
    for (int b = 0; b <= edges; ++b) {
      EXPECT_EQ(f->histogram().counts(b), expected[b])
          << edges << " edges, bin " << b;
    }
  }
}

// The layout cache must tell apart names of every length that differ in a
// single byte (its short-name compare reads 4 or 8 bytes at a time).
TEST(WindowAccumulatorTest, LayoutCacheTellsNamesApart) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  std::vector<std::string> names;
  for (size_t n = 1; n <= 24; ++n) {
    names.push_back(std::string(n, 'a'));
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      std::string other(n, 'a');
      other[at] = 'b';
      names.push_back(other);
    }
  }
  // Each name in turn at position 0, so that every event misses the cache
  // of the one before when the names differ.
  for (int round = 0; round < 2; ++round) {
    for (const std::string& name : names) {
      Event e;
      e.features.emplace_back(
          name, FeatureValue{FeatureValue::Kind::kNumber, 1.0, ""});
      acc.Add(e);
    }
  }
  const v1::WindowSummary s = acc.Build();
  std::set<std::string> distinct(names.begin(), names.end());
  ASSERT_EQ(s.features_size(), static_cast<int>(distinct.size()));
  for (const std::string& name : distinct) {
    const v1::FeatureSummary* f = FindFeature(s, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->n(), 2u * std::count(names.begin(), names.end(), name))
        << name;
  }
}

}  // namespace
}  // namespace aims

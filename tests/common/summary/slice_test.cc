// Slices: the fold keeps per-value counts for at most max_slice_values
// values per key ("__other__" beyond, counted), merges stay bounded when
// windows' top values differ, and SliceMetrics computes each value's metrics
// from its own counts (hand-computed oracles).
#include <string>

#include "common/summary/metric_engine.h"
#include "common/summary/summary_merge.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

// A binary event predicting `predicted` with label `label` (-1: none), in
// `region` (attribute; "" none) and `channel` (categorical feature), with
// numeric feature "age" unless `age_missing`.
Event Ev(int predicted, int label, const std::string& region,
         bool age_missing = false) {
  Event e;
  e.prediction.kind = Outcome::Kind::kClass;
  e.prediction.class_label = predicted ? "1" : "0";
  if (label >= 0) {
    e.label.kind = Outcome::Kind::kClass;
    e.label.class_label = label ? "1" : "0";
  }
  if (!region.empty()) e.attributes.emplace_back("region", region);
  if (!age_missing) {
    e.features.emplace_back("age",
                            FeatureValue{FeatureValue::Kind::kNumber, 40, ""});
  }
  e.features.emplace_back(
      "channel", FeatureValue{FeatureValue::Kind::kCategory, 0, "web"});
  return e;
}

std::shared_ptr<SummaryConfig> Config(size_t max_values) {
  auto config = std::make_shared<SummaryConfig>();
  config->slice_keys = {"region", "channel"};
  config->max_slice_values = max_values;
  return config;
}

const v1::SliceKeySummary* Key(const v1::WindowSummary& s,
                               const std::string& key) {
  for (const auto& k : s.slices()) {
    if (k.key() == key) return &k;
  }
  return nullptr;
}

const v1::WindowSummary* Value(const v1::WindowSummary& s,
                               const std::string& key,
                               const std::string& value) {
  const v1::SliceKeySummary* k = Key(s, key);
  if (k == nullptr) return nullptr;
  for (const auto& v : k->values()) {
    if (v.value() == value) return &v.summary();
  }
  return nullptr;
}

const v1::MetricValue* Find(const std::vector<v1::MetricValue>& values,
                            const std::string& metric, const std::string& slice,
                            const std::string& feature = "") {
  for (const auto& v : values) {
    if (v.metric() == metric && v.slice() == slice && v.feature() == feature)
      return &v;
  }
  return nullptr;
}

TEST(SliceTest, FoldKeepsBoundedValuesAndCountsOther) {
  WindowAccumulator acc(Config(2));
  // eu: 3 labelled, 2 right; us: 2, 1 right, one without age; asia and br
  // arrive after the bound and go to __other__; one event has no region.
  acc.Add(Ev(1, 1, "eu"));
  acc.Add(Ev(0, 0, "eu"));
  acc.Add(Ev(1, 0, "eu"));
  acc.Add(Ev(1, 1, "us"));
  acc.Add(Ev(0, 1, "us", /*age_missing=*/true));
  acc.Add(Ev(1, 1, "asia"));
  acc.Add(Ev(0, 1, "br"));
  acc.Add(Ev(1, 1, "eu"));
  acc.Add(Ev(1, 1, ""));
  EXPECT_EQ(acc.overflows().slices, 2u);
  const v1::WindowSummary s = acc.Build();
  ASSERT_EQ(s.slices_size(), 2);
  EXPECT_EQ(s.slices(0).key(), "channel");  // sorted by key
  const v1::SliceKeySummary* region = Key(s, "region");
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->missing(), 1u);
  EXPECT_EQ(region->max_values(), 2u);
  ASSERT_EQ(region->values_size(), 3);
  EXPECT_EQ(region->values(0).value(), "__other__");
  EXPECT_EQ(region->values(1).value(), "eu");
  EXPECT_EQ(region->values(2).value(), "us");
  EXPECT_EQ(Value(s, "region", "eu")->operational().event_count(), 4u);
  EXPECT_EQ(Value(s, "region", "eu")->performance().labelled_count(), 4u);
  EXPECT_EQ(Value(s, "region", "__other__")->operational().event_count(), 2u);
  // Counts only: no sketches, histograms, attributes or the prediction.
  const v1::WindowSummary* us = Value(s, "region", "us");
  EXPECT_EQ(us->attributes_size(), 0);
  for (const auto& f : us->features()) {
    EXPECT_NE(f.name(), "__prediction__");
    EXPECT_FALSE(f.has_sketch());
  }
  // The categorical feature is a key too: every event is "web".
  EXPECT_EQ(Value(s, "channel", "web")->operational().event_count(), 9u);
  EXPECT_EQ(Key(s, "channel")->missing(), 0u);

  MetricOptions options;
  options.min_labelled = 3;
  options.min_quality_samples = 2;
  const std::vector<v1::MetricValue> m = SliceMetrics(s, nullptr, options);
  // eu: right 3 of 4.
  const v1::MetricValue* eu = Find(m, "accuracy", "region=eu");
  ASSERT_NE(eu, nullptr);
  EXPECT_DOUBLE_EQ(eu->value(), 0.75);
  EXPECT_EQ(eu->sample_size(), 4u);
  EXPECT_EQ(eu->state(), v1::EVIDENCE_STATE_OK);
  // us: 2 labelled, below its own minimum of 3: no number.
  const v1::MetricValue* us_acc = Find(m, "accuracy", "region=us");
  ASSERT_NE(us_acc, nullptr);
  EXPECT_EQ(us_acc->state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(us_acc->value()));
  // us: age missing from 1 of 2 events.
  const v1::MetricValue* us_missing =
      Find(m, "missing_rate", "region=us", "age");
  ASSERT_NE(us_missing, nullptr);
  EXPECT_DOUBLE_EQ(us_missing->value(), 0.5);
  EXPECT_EQ(us_missing->sample_size(), 2u);
  // channel=web covers all 9: 7 of 9 labelled... all 9 labelled, 6 right.
  const v1::MetricValue* web = Find(m, "accuracy", "channel=web");
  ASSERT_NE(web, nullptr);
  EXPECT_DOUBLE_EQ(web->value(), 6.0 / 9.0);
  // A slice carries no latency or throughput.
  EXPECT_EQ(Find(m, "throughput", "region=eu"), nullptr);
  EXPECT_EQ(Find(m, "latency_p99", "region=eu"), nullptr);
}

TEST(SliceTest, JoinedLabelsCountInTheirSliceOnly) {
  WindowAccumulator acc(Config(20));
  acc.Add(Ev(1, -1, "eu"));
  Event joined = Ev(1, 0, "eu");
  acc.AddJoinedLabel(joined, absl::Seconds(5), /*late=*/false);
  const v1::WindowSummary s = acc.Build();
  const v1::WindowSummary* eu = Value(s, "region", "eu");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->operational().event_count(), 1u);  // the label is no event
  EXPECT_EQ(eu->performance().labelled_count(), 1u);
  EXPECT_EQ(Key(s, "region")->missing(), 0u);
}

// Window a's top values are eu and us, b's asia and eu; the merge keeps the
// two with the most events (asia 10, eu 6), us's 3 go to __other__ with
// a's and b's own __other__, and every event stays counted.
TEST(SliceTest, MergeOfDifferentTopValuesStaysBoundedAndExact) {
  WindowAccumulator a(Config(2)), b(Config(2));
  for (int i = 0; i < 5; ++i) a.Add(Ev(1, 1, "eu"));
  for (int i = 0; i < 3; ++i) a.Add(Ev(1, 0, "us"));
  a.Add(Ev(1, 1, "fr"));  // a's __other__
  for (int i = 0; i < 10; ++i) b.Add(Ev(0, 0, "asia"));
  b.Add(Ev(1, 1, "eu"));
  b.Add(Ev(1, 1, "br"));  // b's __other__
  b.Add(Ev(1, 1, ""));    // missing
  v1::WindowSummary c;    // a window of an agent without slices
  c.mutable_operational()->set_event_count(4);

  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse ? "b, a, c" : "a, b, c");
    SummaryMerger merger;
    ASSERT_TRUE(merger.Add(reverse ? b.Build() : a.Build()).ok());
    ASSERT_TRUE(merger.Add(reverse ? a.Build() : b.Build()).ok());
    ASSERT_TRUE(merger.Add(c).ok());
    const v1::WindowSummary& m = merger.result();
    const v1::SliceKeySummary* region = Key(m, "region");
    ASSERT_NE(region, nullptr);
    ASSERT_EQ(region->values_size(), 3);
    EXPECT_EQ(region->values(0).value(), "__other__");
    EXPECT_EQ(region->values(1).value(), "asia");
    EXPECT_EQ(region->values(2).value(), "eu");
    EXPECT_EQ(Value(m, "region", "asia")->operational().event_count(), 10u);
    EXPECT_EQ(Value(m, "region", "eu")->operational().event_count(), 6u);
    // us (3), fr and br.
    const v1::WindowSummary* other = Value(m, "region", "__other__");
    EXPECT_EQ(other->operational().event_count(), 5u);
    EXPECT_EQ(other->performance().labelled_count(), 5u);
    // b's event without region, and all of c's.
    EXPECT_EQ(region->missing(), 5u);
    uint64_t total = region->missing();
    for (const auto& v : region->values())
      total += v.summary().operational().event_count();
    EXPECT_EQ(total, m.operational().event_count());
    // The merged counts give the merged metric: eu right 6 of 6.
    MetricOptions options;
    options.min_labelled = 1;
    const std::vector<v1::MetricValue> values =
        SliceMetrics(m, nullptr, options);
    ASSERT_NE(Find(values, "accuracy", "region=eu"), nullptr);
    EXPECT_DOUBLE_EQ(Find(values, "accuracy", "region=eu")->value(), 1.0);
    // other: us 0 of 3 right, fr and br right: 2 of 5.
    EXPECT_DOUBLE_EQ(Find(values, "accuracy", "region=__other__")->value(),
                     0.4);
  }
}

// Windows binned on different profiles (a rollout of a new profile): slice
// values still merge and fold into __other__, without their score
// histograms, whose bins differ.
TEST(SliceTest, MergeAcrossProfilesDropsOnlyHistograms) {
  auto profile = [](const std::string& id, int edges) {
    auto p = std::make_shared<v1::ReferenceProfile>();
    p->set_profile_id(id);
    for (int i = 1; i <= edges; ++i) p->add_score_edges(i / (edges + 1.0));
    return p;
  };
  auto config_a = Config(1), config_b = Config(1);
  config_a->profile = profile("p1", 3);
  config_b->profile = profile("p2", 5);
  WindowAccumulator a(config_a), b(config_b), c(config_b);
  auto scored = [](int predicted, int label, const std::string& region) {
    Event e = Ev(predicted, label, region);
    e.score = predicted ? 0.9 : 0.1;
    return e;
  };
  a.Add(scored(1, 1, "eu"));
  b.Add(scored(1, 0, "us"));
  b.Add(scored(1, 1, "us"));
  c.Add(scored(0, 0, "fr"));
  SummaryMerger merger;
  ASSERT_TRUE(merger.Add(a.Build()).ok());
  ASSERT_TRUE(merger.Add(b.Build()).ok());
  ASSERT_TRUE(merger.Add(c.Build()).ok());
  const v1::WindowSummary& m = merger.result();
  const v1::SliceKeySummary* region = Key(m, "region");
  ASSERT_NE(region, nullptr);
  ASSERT_EQ(region->values_size(), 2);
  EXPECT_EQ(Value(m, "region", "us")->operational().event_count(), 2u);
  const v1::WindowSummary* other = Value(m, "region", "__other__");
  EXPECT_EQ(other->operational().event_count(), 2u);  // eu and fr
  EXPECT_EQ(other->profile_id(), kMixedProfiles);
  EXPECT_EQ(other->performance().score_by_label_size(), 0);
  EXPECT_EQ(other->performance().labelled_count(), 2u);
}

}  // namespace
}  // namespace aims

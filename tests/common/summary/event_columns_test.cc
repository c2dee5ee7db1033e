// EventColumns and the column fold: a batch folds into the summary that its
// events folded one by one give, whatever the batch boundaries, on random
// events that exercise every path (nulls, absent features, wrong types,
// non-finite values, unseen categories, names twice in an event, every
// limit, slices, three tasks, with and without a profile).
#include "common/summary/event_columns.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"
#include "tests/testing/summary_compare.h"

namespace aims {
namespace {

FeatureValue Number(double v) {
  return FeatureValue{FeatureValue::Kind::kNumber, v, ""};
}
FeatureValue Category(const std::string& c) {
  return FeatureValue{FeatureValue::Kind::kCategory, 0, c};
}

// Events of a model server that mostly behaves: the same features in the
// same order, with now and then every kind of deviation.
class RandomEvents {
 public:
  RandomEvents(uint32_t seed, v1::TaskType task) : rng_(seed), task_(task) {}

  Event Next() {
    Event e;
    std::vector<std::pair<std::string, FeatureValue>> features;
    for (int f = 0; f < 6; ++f) {
      if (Chance(0.05)) continue;  // absent
      features.emplace_back("num_" + std::to_string(f), NumberValue());
    }
    for (const char* name : {"cat_x", "a_long_feature_name_of_27"}) {
      if (Chance(0.05)) continue;
      features.emplace_back(name, CategoryValue());
    }
    if (Chance(0.02)) {  // a name twice, anywhere in the event
      features.insert(features.begin() + Pick(features.size() + 1),
                      {"num_1", Chance(0.5) ? NumberValue() : CategoryValue()});
    }
    if (Chance(0.01)) {  // a feature named as the predictions' summary
      features.insert(features.begin() + Pick(features.size() + 1),
                      {std::string(kPredictionFeature), CategoryValue()});
    }
    if (Chance(0.03)) {
      features.emplace_back("rare_" + std::to_string(Pick(5)), Number(1));
    }
    if (Chance(0.05)) std::shuffle(features.begin(), features.end(), rng_);
    e.features = std::move(features);
    if (!Chance(0.1)) e.attributes.emplace_back("gender", Group(4));
    if (!Chance(0.3)) e.attributes.emplace_back("region", Group(7));
    if (Chance(0.02)) {
      e.attributes.insert(e.attributes.begin() + Pick(e.attributes.size() + 1),
                          {"gender", Group(5)});
    }
    if (!e.attributes.empty() && Chance(0.1)) {
      std::swap(e.attributes.front(), e.attributes.back());
    }
    SetOutcomes(&e);
    if (Chance(0.8)) e.latency_seconds = Uniform() / 10;
    e.error = Chance(0.02);
    if (Chance(0.3)) e.prediction_id = "p" + std::to_string(next_id_++);
    return e;
  }

 private:
  bool Chance(double p) { return Uniform() < p; }
  double Uniform() {
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Group(int n) { return "g" + std::to_string(Pick(n)); }

  FeatureValue NumberValue() {
    if (Chance(0.02)) return FeatureValue();  // null
    if (Chance(0.02)) return Category("oops");
    if (Chance(0.01)) return Number(std::numeric_limits<double>::infinity());
    if (Chance(0.01)) return Number(std::nan(""));
    return Number(std::normal_distribution<double>(0, 2)(rng_));
  }
  FeatureValue CategoryValue() {
    if (Chance(0.02)) return FeatureValue();
    if (Chance(0.02)) return Number(3);
    return Category("c" + std::to_string(Pick(Chance(0.1) ? 30 : 6)));
  }
  void SetOutcomes(Event* e) {
    const bool labelled = Chance(0.7);
    if (task_ == v1::TASK_TYPE_REGRESSION) {
      if (!Chance(0.05)) {
        e->prediction.kind = Outcome::Kind::kNumber;
        e->prediction.number = Uniform() * 10;
      }
      if (labelled) {
        e->label.kind = Outcome::Kind::kNumber;
        e->label.number = Chance(0.1) ? 0 : Uniform() * 10;
      }
      return;
    }
    if (task_ == v1::TASK_TYPE_BINARY) {
      if (!Chance(0.05)) e->score = Uniform();
      if (Chance(0.7)) {
        e->prediction.kind = Outcome::Kind::kNumber;
        e->prediction.number = e->score.value_or(0.5) >= 0.5;
      } else if (Chance(0.1)) {
        e->prediction.kind = Outcome::Kind::kClass;
        e->prediction.class_label = "1";
      }
      if (labelled) {
        e->label.kind = Outcome::Kind::kNumber;
        e->label.number = Pick(2);
      }
      return;
    }
    // Multiclass: more classes than the limit, probabilities now and then.
    const int classes = 6;
    if (!Chance(0.05)) {
      e->prediction.kind = Outcome::Kind::kClass;
      e->prediction.class_label = "k" + std::to_string(Pick(classes));
    }
    if (Chance(0.5)) {
      for (int k = 0; k < 3; ++k) {
        e->probabilities.emplace_back("k" + std::to_string(k), Uniform() / 3);
      }
    }
    if (labelled) {
      e->label.kind =
          Chance(0.2) ? Outcome::Kind::kNumber : Outcome::Kind::kClass;
      e->label.number = Pick(2);
      e->label.class_label = "k" + std::to_string(Pick(classes));
    }
  }

  std::mt19937 rng_;
  v1::TaskType task_;
  int next_id_ = 0;
};

std::shared_ptr<const v1::ReferenceProfile> ProfileOf(
    const std::vector<Event>& events) {
  ProfileBuilder builder{ProfileBuildOptions()};
  for (const Event& e : events) builder.Add(e);
  v1::ModelRef model;
  model.set_name("m");
  model.set_version("v1");
  model.set_environment("test");
  auto profile = builder.Build(model, v1::PROFILE_SOURCE_TRAINING_DATA, "t");
  EXPECT_TRUE(profile.ok()) << profile.status();
  return std::make_shared<v1::ReferenceProfile>(*profile);
}

struct FoldCase {
  v1::TaskType task;
  bool profile;
  bool tight_limits;
  bool slices;
  SummaryConfig::FeatureSketches sketches;
};

class ColumnFoldTest : public ::testing::TestWithParam<FoldCase> {};

TEST_P(ColumnFoldTest, ABatchFoldsAsItsEventsOneByOne) {
  const FoldCase& c = GetParam();
  for (uint32_t seed : {1u, 2u, 3u}) {
    RandomEvents random(seed, c.task);
    std::vector<Event> events;
    for (int i = 0; i < 2000; ++i) events.push_back(random.Next());
    auto config = std::make_shared<SummaryConfig>();
    config->task = c.task;
    config->feature_sketches = c.sketches;
    if (c.profile) {
      config->profile =
          ProfileOf(std::vector<Event>(events.begin(), events.begin() + 300));
    }
    if (c.tight_limits) {
      config->max_features = 5;
      config->max_classes = 4;
      config->max_attributes = 1;
      config->max_groups_per_attribute = 3;
    }
    if (c.slices) {
      config->slice_keys = {"region", "cat_x"};
      config->max_slice_values = 3;
    }
    WindowAccumulator one_by_one(config);
    for (const Event& e : events) one_by_one.Add(e);

    WindowAccumulator batched(config);
    EventColumns batch;  // one object for every batch: Clear() reuses it
    std::mt19937 sizes(seed);
    for (size_t i = 0; i < events.size();) {
      const size_t n = std::min<size_t>(
          events.size() - i,
          std::uniform_int_distribution<size_t>(1, 300)(sizes));
      batch.Clear();
      for (size_t k = 0; k < n; ++k) batch.Append(events[i + k]);
      ASSERT_EQ(batch.rows(), n);
      batched.AddColumns(batch);
      i += n;
    }
    // A name twice in an event adds its values in another order: sums may
    // differ in their last bits.
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    testing::ExpectSameSummary(one_by_one.Build(), batched.Build());
    EXPECT_EQ(one_by_one.overflows().features, batched.overflows().features);
    EXPECT_EQ(one_by_one.overflows().groups, batched.overflows().groups);
    EXPECT_EQ(one_by_one.overflows().classes, batched.overflows().classes);
    EXPECT_EQ(one_by_one.overflows().slices, batched.overflows().slices);
    EXPECT_EQ(one_by_one.overflows().attributes,
              batched.overflows().attributes);
    if (c.tight_limits) {
      EXPECT_GT(batched.overflows().features, 0u);
      EXPECT_GT(batched.overflows().groups, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tasks, ColumnFoldTest,
    ::testing::Values(FoldCase{v1::TASK_TYPE_BINARY, false, false, false,
                               SummaryConfig::FeatureSketches::kUnprofiled},
                      FoldCase{v1::TASK_TYPE_BINARY, true, false, false,
                               SummaryConfig::FeatureSketches::kUnprofiled},
                      FoldCase{v1::TASK_TYPE_BINARY, true, false, true,
                               SummaryConfig::FeatureSketches::kAll},
                      FoldCase{v1::TASK_TYPE_BINARY, true, true, true,
                               SummaryConfig::FeatureSketches::kUnprofiled},
                      FoldCase{v1::TASK_TYPE_MULTICLASS, false, true, false,
                               SummaryConfig::FeatureSketches::kAll},
                      FoldCase{v1::TASK_TYPE_MULTICLASS, true, false, true,
                               SummaryConfig::FeatureSketches::kUnprofiled},
                      FoldCase{v1::TASK_TYPE_REGRESSION, true, false, false,
                               SummaryConfig::FeatureSketches::kUnprofiled},
                      FoldCase{v1::TASK_TYPE_REGRESSION, false, true, true,
                               SummaryConfig::FeatureSketches::kAll}));

TEST(EventColumnsTest, ColumnsInOrderOfFirstAppearanceWithAbsentAndNull) {
  EventColumns b;
  Event first;
  first.features = {{"x", Number(1)}, {"y", FeatureValue()}};
  Event second;
  second.features = {
      {"z", Category("red")}, {"x", Number(2)}, {"x", Number(3)}};
  second.attributes = {{"gender", "f"}};
  b.Append(first);
  b.Append(second);
  ASSERT_EQ(b.rows(), 2u);
  ASSERT_EQ(b.feature_count(), 4u);
  using Cell = EventColumns::Cell;
  EXPECT_EQ(b.feature(0).name, "x");
  EXPECT_EQ(b.feature(0).number, (std::vector<double>{1, 2}));
  EXPECT_EQ(b.feature(1).name, "y");
  EXPECT_EQ(b.feature(1).cell, (std::vector<Cell>{Cell::kNull, Cell::kAbsent}));
  EXPECT_EQ(b.feature(2).name, "z");
  EXPECT_EQ(b.feature(2).first_row, 1u);
  EXPECT_EQ(b.feature(2).cell[0], Cell::kAbsent);
  EXPECT_EQ(b.feature(2).categories[b.feature(2).category[1]], "red");
  // The second "x" of an event: a column of its own, after the others.
  EXPECT_EQ(b.feature(3).name, "x");
  EXPECT_EQ(b.feature(3).cell,
            (std::vector<Cell>{Cell::kAbsent, Cell::kNumber}));
  EXPECT_EQ(b.feature(3).number[1], 3);
  ASSERT_EQ(b.attribute_count(), 1u);
  EXPECT_EQ(b.attribute(0).group[0], EventColumns::Attribute::kAbsent);

  b.Clear();
  EXPECT_EQ(b.rows(), 0u);
  EXPECT_EQ(b.feature_count(), 0u);
  Event third;
  third.features = {{"w", Number(4)}};
  b.Append(third);
  ASSERT_EQ(b.feature_count(), 1u);
  EXPECT_EQ(b.feature(0).name, "w");
  EXPECT_EQ(b.feature(0).number, (std::vector<double>{4}));
  EXPECT_EQ(b.feature(0).numbers, 1u);
}

Event WithFeatures(std::vector<std::pair<std::string, FeatureValue>> f) {
  Event e;
  e.features = std::move(f);
  return e;
}

Event WithAttributes(std::vector<std::pair<std::string, std::string>> a) {
  Event e;
  e.attributes = std::move(a);
  return e;
}

v1::WindowSummary FoldAsOneBatch(std::shared_ptr<const SummaryConfig> config,
                                 const std::vector<Event>& events) {
  EventColumns batch;
  for (const Event& e : events) batch.Append(e);
  WindowAccumulator acc(std::move(config));
  acc.AddColumns(batch);
  return acc.Build();
}

// Values of a name an event lists twice, and of a feature named as the
// predictions' summary, meet in the order of the events within one batch:
// the first value seen fixes a feature's kind, groups are made in the
// order met, a slice takes an event's first value of its key.
TEST(EventColumnsTest, RepeatedNamesFoldInEventOrderWithinABatch) {
  using Kind = FeatureValue::Kind;
  const FeatureValue null_value{Kind::kMissing, 0, ""};
  auto config = std::make_shared<SummaryConfig>();
  v1::WindowSummary s = FoldAsOneBatch(
      config, {WithFeatures({{"a", null_value}, {"a", Category("x")}}),
               WithFeatures({{"a", Number(5)}})});
  ASSERT_EQ(s.features_size(), 1);
  EXPECT_EQ(s.features(0).quality().wrong_type(), 1u);  // the 5
  EXPECT_EQ(s.features(0).n(), 0u);
  EXPECT_FALSE(s.features(0).has_sketch());

  auto groups = std::make_shared<SummaryConfig>();
  groups->max_groups_per_attribute = 3;
  s = FoldAsOneBatch(groups, {WithAttributes({{"g", "a"}, {"g", "b"}}),
                              WithAttributes({{"g", "c"}})});
  ASSERT_EQ(s.attributes_size(), 1);
  std::vector<std::string> names;
  for (const v1::GroupCounts& g : s.attributes(0).groups()) {
    names.push_back(g.group());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"__other__", "a", "b"}));

  auto slices = std::make_shared<SummaryConfig>();
  slices->slice_keys = {"g"};
  s = FoldAsOneBatch(slices,
                     {WithAttributes({{"g", "a"}, {"g", "b"}}),
                      WithAttributes({{"h", "1"}, {"g", "p"}, {"g", "q"}})});
  ASSERT_EQ(s.slices_size(), 1);
  names.clear();
  for (const v1::SliceValueSummary& v : s.slices(0).values()) {
    names.push_back(v.value());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "p"}));

  // The score comes first: the summary is numeric, the text a wrong type.
  Event scored;
  scored.score = 0.7;
  s = FoldAsOneBatch(
      config,
      {scored,
       WithFeatures({{std::string(kPredictionFeature), Category("x")}})});
  ASSERT_EQ(s.features_size(), 1);
  EXPECT_EQ(s.features(0).n(), 1u);
  EXPECT_DOUBLE_EQ(s.features(0).sum(), 0.7);
  EXPECT_EQ(s.features(0).quality().wrong_type(), 1u);

  // The profile keeps the category seen first, within its limit.
  ProfileBuildOptions options;
  options.max_categories_per_feature = 1;
  ProfileBuilder builder(options);
  EventColumns batch;
  batch.Append(WithFeatures({{"a", null_value}, {"a", Category("x")}}));
  batch.Append(WithFeatures({{"a", Category("y")}}));
  builder.AddColumns(batch);
  EXPECT_EQ(builder.categories_overflowed(), 1u);
  absl::StatusOr<v1::ReferenceProfile> profile =
      builder.Build(v1::ModelRef(), v1::PROFILE_SOURCE_TRAINING_DATA, "t");
  ASSERT_TRUE(profile.ok()) << profile.status();
  for (const v1::FeatureProfile& f : profile->features()) {
    if (f.name() == "a") {
      EXPECT_EQ(f.categories_size(), 1);
      EXPECT_EQ(f.categories(0), "x");
    }
  }
}

TEST(EventColumnsTest, ClassCodesNameNumbersByTheirIntegerText) {
  EventColumns b;
  for (double label : {1.0, 0.0, 1.0, 2.5}) {
    Event e;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = label;
    b.Append(e);
  }
  const EventColumns::Outcomes& l = b.labels();
  EXPECT_EQ(l.classes[l.class_code[0]], "1");
  EXPECT_EQ(l.classes[l.class_code[1]], "0");
  EXPECT_EQ(l.class_code[2], l.class_code[0]);
  EXPECT_EQ(l.classes[l.class_code[3]], "2.5");
  EXPECT_EQ(l.classes.size(), 3u);
}

// A dictionary past its scan size switches to a hash and keeps every code.
TEST(EventColumnsTest, CodeDictionaryKeepsCodesPastItsScanSize) {
  CodeDictionary d;
  for (int i = 0; i < 40; ++i) EXPECT_EQ(d.Code("v" + std::to_string(i)), i);
  for (int i = 39; i >= 0; --i) EXPECT_EQ(d.Code("v" + std::to_string(i)), i);
  EXPECT_EQ(d.size(), 40u);
  EXPECT_EQ(d[17], "v17");
}

// By default a numeric feature the profile bins has no sketch (its bins
// answer drift); one the profile lacks keeps it; kAll keeps both.
TEST(EventColumnsTest, FeatureSketchesWhereNoProfileBinsByDefault) {
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) {
    Event e;
    e.features = {{"binned", Number(i)}};
    events.push_back(e);
  }
  const auto profile = ProfileOf(events);
  for (auto sketches : {SummaryConfig::FeatureSketches::kUnprofiled,
                        SummaryConfig::FeatureSketches::kAll}) {
    auto config = std::make_shared<SummaryConfig>();
    config->profile = profile;
    config->feature_sketches = sketches;
    WindowAccumulator acc(config);
    Event e;
    e.features = {{"binned", Number(5)}, {"new", Number(7)}};
    acc.Add(e);
    const v1::WindowSummary s = acc.Build();
    ASSERT_EQ(s.features_size(), 2);
    EXPECT_EQ(s.features(0).name(), "binned");
    EXPECT_EQ(s.features(0).has_sketch(),
              sketches == SummaryConfig::FeatureSketches::kAll);
    int edges = -1;
    for (const v1::FeatureProfile& f : profile->features()) {
      if (f.name() == "binned") edges = f.edges_size();
    }
    EXPECT_GT(edges, 1);
    EXPECT_EQ(s.features(0).histogram().counts_size(), edges + 1);
    EXPECT_EQ(s.features(0).sum(), 5);
    EXPECT_EQ(s.features(1).name(), "new");
    EXPECT_TRUE(s.features(1).has_sketch());
    EXPECT_EQ(s.features(1).sketch().count(), 1u);
  }
}

}  // namespace
}  // namespace aims

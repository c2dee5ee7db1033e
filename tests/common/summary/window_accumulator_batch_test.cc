// WindowAccumulator::AddBatch: the column fold gives the summary Add gives
// event by event, bit for bit, on the cases where column code and row code
// could part: non-finite values, values on bin edges, empty and long edge
// lists, unseen categories, kinds fixed mid-batch, limits, and batches that
// must fall back to row order.
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/summary/window_accumulator.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

FeatureValue Number(double v) {
  return FeatureValue{FeatureValue::Kind::kNumber, v, ""};
}
FeatureValue Category(const std::string& c) {
  return FeatureValue{FeatureValue::Kind::kCategory, 0, c};
}

std::shared_ptr<v1::ReferenceProfile> Profile() {
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("p");
  for (double e : {0.1, 0.5, 0.9}) profile->add_score_edges(e);
  auto numeric = [&](const std::string& name, std::vector<double> edges) {
    v1::FeatureProfile* f = profile->add_features();
    f->set_name(name);
    f->set_kind(v1::FeatureProfile::KIND_NUMERIC);
    for (double e : edges) f->add_edges(e);
    f->set_min(-1);
    f->set_max(1);
  };
  numeric("x", {-0.5, 0.0, 0.5});
  numeric("no_edges", {});
  std::vector<double> many;  // more than NumericBin's branch-free limit
  for (int i = 0; i < 100; ++i) many.push_back(-1 + i * 0.02);
  numeric("many_edges", many);
  v1::FeatureProfile* c = profile->add_features();
  c->set_name("city");
  c->set_kind(v1::FeatureProfile::KIND_CATEGORICAL);
  c->add_categories("paris");
  c->add_categories("rome");
  return profile;
}

std::shared_ptr<SummaryConfig> Config(bool with_profile) {
  auto config = std::make_shared<SummaryConfig>();
  if (with_profile) config->profile = Profile();
  return config;
}

// Events with every edge case, the same features in the same positions
// (the column path), some missing.
std::vector<Event> EdgeCaseEvents() {
  const std::vector<double> specials = {
      kNaN, kInf, -kInf, -0.5,  0.0,   -0.0, 0.5,   1e-10, -1e-10,
      1.0,  -1.0, 1.5,   -1e30, 1e300, 0.02, -0.98, 0.25,  0.1 + 0.2};
  std::vector<Event> events;
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 0.7);
  for (size_t i = 0; i < 200; ++i) {
    Event e;
    const double v = i < specials.size() ? specials[i] : normal(rng);
    // x without the huge values, whose sums would hide a change of order.
    const double x = std::isfinite(v) && std::fabs(v) > 1e6 ? 0.3 : v;
    e.features.emplace_back("x", i % 17 == 5 ? FeatureValue() : Number(x));
    e.features.emplace_back("no_edges", Number(-v));
    e.features.emplace_back("many_edges",
                            i % 13 == 4 ? Category("oops") : Number(v));
    e.features.emplace_back("city", Category(i % 3 == 0   ? "paris"
                                             : i % 3 == 1 ? "rome"
                                                          : "oslo"));
    // Kind fixed by its first value present: missing at first, then a
    // number, later a category (wrong type).
    e.features.emplace_back("late", i < 7    ? FeatureValue()
                                    : i < 50 ? Number(v)
                                             : Category("c"));
    e.score = std::fabs(std::fmod(i * 0.37, 1.0));
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5;
    if (i % 4 != 0) {
      e.label.kind = Outcome::Kind::kNumber;
      e.label.number = i % 3 == 0;
    }
    e.attributes.emplace_back("gender", i % 2 ? "f" : "m");
    e.latency_seconds = 0.001 * i;
    e.error = i % 11 == 0;
    events.push_back(std::move(e));
  }
  return events;
}

// The summary of `events` through Add, and through AddBatch in batches of
// `batch`; also the overflows of both.
void ExpectBatchEqualsAdd(std::shared_ptr<SummaryConfig> config,
                          const std::vector<Event>& events, size_t batch) {
  WindowAccumulator rows(config), columns(config);
  for (const Event& e : events) rows.Add(e);
  for (size_t i = 0; i < events.size(); i += batch) {
    columns.AddBatch(absl::MakeConstSpan(events).subspan(i, batch));
  }
  const v1::WindowSummary a = rows.Build(), b = columns.Build();
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;  // doubles exactly
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(a, b)) << "batch " << batch << ": " << diff;
  EXPECT_EQ(rows.overflows().features, columns.overflows().features);
  EXPECT_EQ(rows.overflows().classes, columns.overflows().classes);
  EXPECT_EQ(rows.event_count(), columns.event_count());
}

TEST(WindowAccumulatorBatchTest, EqualsAddOnEdgeCasesWithAndWithoutProfile) {
  const std::vector<Event> events = EdgeCaseEvents();
  for (bool with_profile : {true, false}) {
    for (size_t batch : {1, 3, 7, 64, 500}) {
      ExpectBatchEqualsAdd(Config(with_profile), events, batch);
    }
  }
}

// Real outcomes of the column path, not only agreement with Add: a value on
// an edge goes to the bin above it, non-finite values are counted apart and
// binned nowhere, an unseen category lands in the last bin.
TEST(WindowAccumulatorBatchTest, ColumnBinsValuesOnEdgesAndCountsNonFinite) {
  std::vector<Event> events;
  for (const FeatureValue& v :
       {Number(-0.5), Number(0.0), Number(-0.0), Number(0.5), Number(kNaN),
        Number(kInf), Number(-0.75), Number(2.0), FeatureValue()}) {
    Event e;
    e.features.emplace_back("x", v);
    e.features.emplace_back("city", Category(v.number > 0 ? "oslo" : "rome"));
    events.push_back(e);
  }
  WindowAccumulator acc(Config(true));
  acc.AddBatch(events);
  const v1::WindowSummary s = acc.Build();
  const v1::FeatureSummary* x = nullptr;
  const v1::FeatureSummary* city = nullptr;
  for (const auto& f : s.features()) {
    if (f.name() == "x") x = &f;
    if (f.name() == "city") city = &f;
  }
  ASSERT_NE(x, nullptr);
  ASSERT_EQ(x->histogram().counts_size(), 4);
  EXPECT_EQ(x->histogram().counts(0), 1u);  // -0.75
  EXPECT_EQ(x->histogram().counts(1), 1u);  // -0.5 on its edge
  EXPECT_EQ(x->histogram().counts(2), 2u);  // 0 and -0 on the 0 edge
  EXPECT_EQ(x->histogram().counts(3), 2u);  // 0.5 on its edge, 2
  EXPECT_EQ(x->n(), 6u);
  EXPECT_EQ(x->quality().non_finite(), 2u);
  EXPECT_EQ(x->quality().missing(), 1u);
  EXPECT_EQ(x->quality().out_of_range(), 1u);  // 2 > max 1
  EXPECT_DOUBLE_EQ(x->sum(), 1.25);
  ASSERT_NE(city, nullptr);
  ASSERT_EQ(city->histogram().counts_size(), 3);
  EXPECT_EQ(city->histogram().counts(1), 6u);  // rome
  EXPECT_EQ(city->histogram().counts(2), 3u);  // oslo: unseen
  EXPECT_EQ(city->quality().unseen_category(), 3u);
}

// Batches the column order would fold differently go row by row: features
// that change position, a feature repeated in an event, an input feature
// named like the prediction's pseudo-feature.
TEST(WindowAccumulatorBatchTest, FallsBackToRowOrderWhereColumnsWouldDiffer) {
  std::vector<Event> moved = EdgeCaseEvents();
  for (size_t i : {10, 77, 150, 151, 190}) {
    std::swap(moved[i].features[0], moved[i].features[1]);
  }
  std::vector<Event> repeated = EdgeCaseEvents();
  repeated[20].features.push_back(repeated[20].features[0]);
  repeated[20].features[0].second = Number(0.123456789);
  std::vector<Event> prediction = EdgeCaseEvents();
  prediction[30].features[1].first = std::string(kPredictionFeature);
  for (const auto* events : {&moved, &repeated, &prediction}) {
    for (size_t batch : {1, 50, 500}) {
      ExpectBatchEqualsAdd(Config(true), *events, batch);
    }
  }
}

// With max_features reached mid-batch, the same features are admitted and
// the same values dropped as with Add (creation in row order), the
// prediction's state included.
TEST(WindowAccumulatorBatchTest, FeatureLimitAdmitsTheSameFeatures) {
  std::vector<Event> events = EdgeCaseEvents();
  for (size_t i = 0; i < events.size(); ++i) {
    // New features appear over the batch, after the prediction's state.
    events[i].features.emplace_back("extra_" + std::to_string(i % 9),
                                    Number(i * 0.5));
  }
  for (size_t limit : {2, 5, 6, 8, 20}) {
    auto config = Config(true);
    config->max_features = limit;
    ExpectBatchEqualsAdd(config, events, 500);
    ExpectBatchEqualsAdd(config, events, 33);
    WindowAccumulator acc(config);
    acc.AddBatch(events);
    EXPECT_LE(static_cast<size_t>(acc.Build().features_size()), limit);
    if (limit < 14) EXPECT_GT(acc.overflows().features, 0u) << limit;
  }
}

}  // namespace
}  // namespace aims

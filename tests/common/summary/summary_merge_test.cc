#include "common/summary/summary_merge.h"

#include <random>

#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"
#include "tests/testing/summary_compare.h"

namespace aims {
namespace {

std::vector<Event> RandomEvents(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Event e;
    // Values on a 1/64 grid keep floating-point sums exact in any order.
    auto grid = [&](double scale) {
      return std::floor(u(rng) * 64) / 64 * scale;
    };
    e.score = grid(1);
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5;
    if (u(rng) < 0.6) {
      e.label.kind = Outcome::Kind::kNumber;
      e.label.number = u(rng) < *e.score;
    }
    e.features.emplace_back(
        "income", FeatureValue{FeatureValue::Kind::kNumber, grid(1e5), ""});
    if (u(rng) < 0.9) {
      e.features.emplace_back(
          "age", FeatureValue{FeatureValue::Kind::kNumber, grid(80), ""});
    }
    if (i % 7 == 3) {  // a feature only some agents see
      e.features.emplace_back(
          "rare", FeatureValue{FeatureValue::Kind::kCategory, 0, "x"});
    }
    e.attributes.emplace_back("gender", u(rng) < 0.5 ? "f" : "m");
    if (u(rng) < 0.8)
      e.attributes.emplace_back("age_band", u(rng) < 0.5 ? "young" : "old");
    e.latency_seconds = grid(0.1);
    e.error = u(rng) < 0.02;
    events.push_back(std::move(e));
  }
  return events;
}

v1::WindowSummary Summarise(const std::vector<Event>& events, size_t from,
                            size_t to) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (size_t i = from; i < to; ++i) acc.Add(events[i]);
  return acc.Build();
}

using testing::ExpectSameSummary;

TEST(SummaryMergeTest, MergeIsCommutative) {
  const auto events = RandomEvents(400, 1);
  const v1::WindowSummary a = Summarise(events, 0, 150);
  const v1::WindowSummary b = Summarise(events, 150, 400);
  v1::WindowSummary ab = a, ba = b;
  ASSERT_TRUE(MergeSummaries(&ab, b).ok());
  ASSERT_TRUE(MergeSummaries(&ba, a).ok());
  ExpectSameSummary(ab, ba);
}

TEST(SummaryMergeTest, MergeIsAssociative) {
  const auto events = RandomEvents(300, 2);
  const v1::WindowSummary a = Summarise(events, 0, 100);
  const v1::WindowSummary b = Summarise(events, 100, 200);
  const v1::WindowSummary c = Summarise(events, 200, 300);
  v1::WindowSummary ab_c = a;
  ASSERT_TRUE(MergeSummaries(&ab_c, b).ok());
  ASSERT_TRUE(MergeSummaries(&ab_c, c).ok());
  v1::WindowSummary bc = b;
  ASSERT_TRUE(MergeSummaries(&bc, c).ok());
  v1::WindowSummary a_bc = a;
  ASSERT_TRUE(MergeSummaries(&a_bc, bc).ok());
  ExpectSameSummary(ab_c, a_bc);
}

// Without feature sketches (as metrics merge): the same summary less the
// sketches, the latency sketch kept; inputs with or without them merge.
// Every count of OperationalSummary adds up (found missing once: a new
// count that merges forget is lost from every query and rollup).
TEST(SummaryMergeTest, EveryOperationalCountAddsUp) {
  const google::protobuf::Descriptor* d = v1::OperationalSummary::descriptor();
  const google::protobuf::Reflection* r =
      v1::OperationalSummary::GetReflection();
  v1::WindowSummary a, b;
  int counts = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT64 ||
        f->is_repeated()) {
      continue;
    }
    r->SetUInt64(a.mutable_operational(), f, 3 + i);
    r->SetUInt64(b.mutable_operational(), f, 100 * (i + 1));
    ++counts;
  }
  ASSERT_GE(counts, 9);
  ASSERT_TRUE(MergeSummaries(&a, b).ok());
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT64 ||
        f->is_repeated()) {
      continue;
    }
    EXPECT_EQ(r->GetUInt64(a.operational(), f),
              uint64_t(3 + i) + uint64_t(100 * (i + 1)))
        << f->name();
  }
}

TEST(SummaryMergeTest, DroppingFeatureSketchesKeepsEverythingElse) {
  const auto events = RandomEvents(300, 4);
  const v1::WindowSummary a = Summarise(events, 0, 100);
  v1::WindowSummary b = Summarise(events, 100, 300);
  ASSERT_TRUE(a.features(0).has_sketch());
  SummaryMerger full;
  ASSERT_TRUE(full.Add(a).ok());
  ASSERT_TRUE(full.Add(b).ok());
  for (v1::FeatureSummary& f : *b.mutable_features()) f.clear_sketch();
  SummaryMerger lean(SummaryMerger::FeatureSketches::kDrop);
  ASSERT_TRUE(lean.Add(a).ok());
  ASSERT_TRUE(lean.Add(b).ok());
  v1::WindowSummary expected = full.result();
  for (v1::FeatureSummary& f : *expected.mutable_features()) f.clear_sketch();
  ExpectSameSummary(lean.result(), expected);
  EXPECT_GT(lean.result().operational().latency_seconds().count(), 0u);
  EXPECT_EQ(lean.count(), 2u);
}

// A stream split across 1..8 agents, merged, equals one agent's summary.
TEST(SummaryMergeTest, SplittingAcrossAgentsChangesNothing) {
  const auto events = RandomEvents(1000, 3);
  v1::WindowSummary whole = Summarise(events, 0, events.size());
  // Normalise the single summary through the merger (sorted classes).
  v1::WindowSummary empty_merge;
  {
    WindowAccumulator none(std::make_shared<SummaryConfig>());
    empty_merge = none.Build();
  }
  ASSERT_TRUE(MergeSummaries(&whole, empty_merge).ok());
  for (int agents = 1; agents <= 8; ++agents) {
    std::vector<std::vector<Event>> shares(agents);
    for (size_t i = 0; i < events.size(); ++i) {
      shares[(i * 7919) % agents].push_back(events[i]);
    }
    SummaryMerger merger;
    for (const auto& share : shares) {
      ASSERT_TRUE(merger.Add(Summarise(share, 0, share.size())).ok());
    }
    v1::WindowSummary merged = merger.result();
    ASSERT_TRUE(MergeSummaries(&merged, empty_merge).ok());
    SCOPED_TRACE(agents);
    ExpectSameSummary(merged, whole);
  }
}

TEST(SummaryMergeTest, DifferentProfilesDropHistogramsOnly) {
  v1::WindowSummary a, b;
  a.set_profile_id("p1");
  b.set_profile_id("p2");
  a.mutable_operational()->set_event_count(3);
  b.mutable_operational()->set_event_count(4);
  auto* fa = a.add_features();
  fa->set_name("x");
  fa->mutable_histogram()->add_counts(3);
  auto* fb = b.add_features();
  fb->set_name("x");
  fb->mutable_histogram()->add_counts(4);
  ASSERT_TRUE(MergeSummaries(&a, b).ok());
  EXPECT_EQ(a.profile_id(), kMixedProfiles);
  EXPECT_EQ(a.operational().event_count(), 7u);
  EXPECT_EQ(a.features(0).histogram().counts_size(), 0);
}

TEST(SummaryMergeTest, MismatchedHistogramsFailWithTheField) {
  v1::WindowSummary a, b;
  a.add_features()->set_name("x");
  a.mutable_features(0)->mutable_histogram()->add_counts(1);
  b = a;
  b.mutable_features(0)->mutable_histogram()->add_counts(1);
  absl::Status s = MergeSummaries(&a, b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("features.x.histogram"), absl::string_view::npos);
}

}  // namespace
}  // namespace aims

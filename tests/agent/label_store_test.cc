#include "agent/label_store.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

Event Predicted(const std::string& id, const std::string& cls, double score) {
  Event e;
  e.prediction_id = id;
  e.prediction.kind = Outcome::Kind::kClass;
  e.prediction.class_label = cls;
  e.score = score;
  e.attributes = {{"gender", "f"}};
  return e;
}

LabelEvent Label(const std::string& id, const std::string& cls) {
  LabelEvent l;
  l.prediction_id = id;
  l.label.kind = Outcome::Kind::kClass;
  l.label.class_label = cls;
  return l;
}

TEST(LabelStoreTest, JoinsOnceAndSurvivesRestart) {
  testing::TempDir dir;
  LabelStoreOptions options;
  options.dir = dir.path();
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  {
    auto store = LabelStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    Event labelled = Predicted("inline", "1", 0.9);
    labelled.label = labelled.prediction;  // has its label: not remembered
    Event anonymous = Predicted("", "1", 0.9);
    auto remembered =
        (*store)->Remember({Predicted("a", "1", 0.8), Predicted("b", "0", 0.2),
                            labelled, anonymous},
                           t0);
    ASSERT_TRUE(remembered.ok());
    EXPECT_EQ(remembered->evicted, 0u);
    EXPECT_TRUE(remembered->duplicates.empty());
    EXPECT_EQ((*store)->size(), 2u);
  }
  auto store = LabelStore::Open(options);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->size(), 2u);
  std::vector<JoinedLabel> joined;
  uint64_t unmatched = 0;
  ASSERT_TRUE((*store)
                  ->Join({Label("a", "0"), Label("zzz", "1"), Label("a", "1")},
                         t0 + absl::Minutes(5), &joined, &unmatched)
                  .ok());
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(unmatched, 2u);  // unknown id, and "a" again in the same batch
  const JoinedLabel& j = joined[0];
  EXPECT_EQ(j.event.prediction.class_label, "1");
  EXPECT_EQ(j.event.label.class_label, "0");
  EXPECT_DOUBLE_EQ(*j.event.score, 0.8);
  EXPECT_EQ(j.event.attributes[0].second, "f");
  EXPECT_EQ(j.labelled_at - j.predicted_at, absl::Minutes(5));
  joined.clear();
  ASSERT_TRUE((*store)->Join({Label("a", "0")}, t0, &joined, &unmatched).ok());
  EXPECT_TRUE(joined.empty());
  EXPECT_EQ(unmatched, 1u);
  EXPECT_EQ((*store)->size(), 1u);
}

TEST(LabelStoreTest, CapacityEvictsOldestAndTtlExpires) {
  testing::TempDir dir;
  LabelStoreOptions options;
  options.dir = dir.path();
  options.max_entries = 3;
  options.ttl = absl::Minutes(10);
  auto store = LabelStore::Open(options);
  ASSERT_TRUE(store.ok());
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 5; ++i) {
    auto remembered = (*store)->Remember(
        {Predicted("p" + std::to_string(i), "1", 0.5)}, t0 + absl::Seconds(i));
    ASSERT_TRUE(remembered.ok());
    EXPECT_EQ(remembered->evicted, i < 3 ? 0u : 1u);
  }
  EXPECT_EQ((*store)->size(), 3u);
  std::vector<JoinedLabel> joined;
  uint64_t unmatched = 0;
  ASSERT_TRUE(
      (*store)
          ->Join({Label("p0", "1"), Label("p4", "1")}, t0, &joined, &unmatched)
          .ok());
  EXPECT_EQ(joined.size(), 1u);  // p0 was evicted
  EXPECT_EQ(unmatched, 1u);
  // p2 and p3 remain; both expire 10 min after they arrived.
  EXPECT_EQ(*(*store)->Expire(t0 + absl::Minutes(10)), 0u);
  EXPECT_EQ(*(*store)->Expire(t0 + absl::Minutes(10) + absl::Seconds(3)), 1u);
  EXPECT_EQ(*(*store)->Expire(t0 + absl::Hours(1)), 1u);
  EXPECT_EQ((*store)->size(), 0u);
}

TEST(LabelStoreTest, DuplicatePredictionIsRefusedAndTheFirstWaits) {
  testing::TempDir dir;
  LabelStoreOptions options;
  options.dir = dir.path();
  auto store = LabelStore::Open(options);
  ASSERT_TRUE(store.ok());
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  auto first = (*store)->Remember({Predicted("dup", "0", 0.1)}, t0);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->duplicates.empty());
  // Across calls, within one call, and with an inline label: all refused.
  Event labelled = Predicted("dup", "1", 0.9);
  labelled.label = labelled.prediction;
  auto again = (*store)->Remember(
      {Predicted("new", "1", 0.9), Predicted("dup", "1", 0.9), labelled,
       Predicted("new", "0", 0.2)},
      t0 + absl::Seconds(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicates, (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ((*store)->size(), 2u);
  std::vector<JoinedLabel> joined;
  uint64_t unmatched = 0;
  ASSERT_TRUE((*store)
                  ->Join({Label("dup", "1"), Label("new", "1")}, t0, &joined,
                         &unmatched)
                  .ok());
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0].event.prediction.class_label, "0");  // the first copy
  EXPECT_EQ(joined[1].event.prediction.class_label, "1");
  // Once labelled the id is free again: a new prediction may use it.
  auto reused = (*store)->Remember({Predicted("dup", "1", 0.7)}, t0);
  ASSERT_TRUE(reused.ok());
  EXPECT_TRUE(reused->duplicates.empty());
  EXPECT_EQ((*store)->size(), 1u);
}

}  // namespace
}  // namespace aims::agent

#include "common/event_json.h"

#include "gtest/gtest.h"

namespace aims {
namespace {

TEST(EventJsonTest, ParsesArrayWithAllFields) {
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([{
      "prediction_id": "p-1", "timestamp": 1700000000.5,
      "features": {"age": 42, "city": "Paris", "vip": true, "income": null},
      "prediction": 1, "score": 0.8, "label": "0",
      "probabilities": {"0": 0.2, "1": 0.8},
      "attributes": {"gender": "f", "age_band": 3},
      "latency_ms": 12.5, "error": false}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  ASSERT_EQ(batch.events.size(), 1u);
  ASSERT_TRUE(batch.errors.empty());
  const Event& e = batch.events[0];
  EXPECT_EQ(e.prediction_id, "p-1");
  EXPECT_EQ(e.timestamp, absl::FromUnixMillis(1700000000500));
  ASSERT_EQ(e.features.size(), 4u);
  EXPECT_EQ(e.features[0].second.kind, FeatureValue::Kind::kNumber);
  EXPECT_EQ(e.features[1].second.category, "Paris");
  EXPECT_EQ(e.features[2].second.category, "true");
  EXPECT_EQ(e.features[3].second.kind, FeatureValue::Kind::kMissing);
  EXPECT_EQ(e.prediction.AsClass(), "1");
  EXPECT_EQ(e.label.AsClass(), "0");
  EXPECT_DOUBLE_EQ(*e.score, 0.8);
  EXPECT_EQ(e.attributes[1].second, "3");
  EXPECT_DOUBLE_EQ(*e.latency_seconds, 0.0125);
}

TEST(EventJsonTest, BadEventsAreReportedAndGoodOnesKept) {
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([
      {"prediction": 1},
      {"prediction": 1, "featurez": {}},
      {"score": 1.5},
      {"features": {"age": [1]}},
      {"latency_ms": -1},
      "not an object",
      {"prediction": "a"}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  EXPECT_EQ(batch.events.size(), 2u);
  ASSERT_EQ(batch.errors.size(), 5u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_EQ(batch.errors[0].field, "featurez");
  EXPECT_EQ(batch.errors[0].reason, "unknown field (see docs/events.md)");
  EXPECT_EQ(batch.errors[1].field, "score");
  EXPECT_NE(batch.errors[1].reason.find("[0, 1]"), std::string::npos);
  EXPECT_EQ(batch.errors[2].field, "features.age");
  EXPECT_EQ(batch.errors[3].field, "latency");
  EXPECT_EQ(batch.errors[4].index, 5u);
}

TEST(EventJsonTest, JsonLinesKeepValidLinesAroundABrokenOne) {
  EventBatch batch;
  ASSERT_TRUE(
      ParseEventBatch("{\"prediction\": 1}\n{broken\n\n{\"prediction\": 0}\n",
                      JsonIntakeLimits(), &batch)
          .ok());
  EXPECT_EQ(batch.events.size(), 2u);
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_NE(batch.errors[0].reason.find("not valid JSON"), std::string::npos);
}

TEST(EventJsonTest, WholeBodyErrors) {
  EventBatch batch;
  EXPECT_EQ(ParseEventBatch("", JsonIntakeLimits(), &batch).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status broken =
      ParseEventBatch("[{\"a\": 1}", JsonIntakeLimits(), &batch);
  EXPECT_EQ(broken.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(broken.message().find("body"), absl::string_view::npos);
  JsonIntakeLimits small;
  small.max_events_per_batch = 2;
  absl::Status too_many = ParseEventBatch("[{},{},{}]", small, &batch);
  EXPECT_NE(too_many.message().find("limit 2"), absl::string_view::npos);
}

TEST(EventJsonTest, LimitsNameTheFieldAndTheLimit) {
  JsonIntakeLimits limits;
  limits.event.max_features = 2;
  limits.event.max_string_bytes = 4;
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([{"features": {"a": 1, "b": 2, "c": 3}},
                                   {"features": {"a": "toolong"}}])",
                              limits, &batch)
                  .ok());
  ASSERT_EQ(batch.errors.size(), 2u);
  EXPECT_EQ(batch.errors[0].field, "features");
  EXPECT_NE(batch.errors[0].reason.find("2"), std::string::npos);
  EXPECT_EQ(batch.errors[1].field, "features.a");
  EXPECT_NE(batch.errors[1].reason.find("limit 4"), std::string::npos);
}

TEST(EventJsonTest, TimestampsAsRfc3339AndRejectedWhenAbsurd) {
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([{"timestamp": "2026-11-23T05:00:00Z"},
                                   {"timestamp": "yesterday"},
                                   {"timestamp": -5}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(absl::ToUnixSeconds(batch.events[0].timestamp), 1795410000);
  ASSERT_EQ(batch.errors.size(), 2u);
  EXPECT_EQ(batch.errors[0].field, "timestamp");
  EXPECT_EQ(batch.errors[1].field, "timestamp");
}

}  // namespace
}  // namespace aims

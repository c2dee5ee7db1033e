#include "common/summary/event.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

Event At(const std::string& id, absl::Time t) {
  Event e;
  e.prediction_id = id;
  e.timestamp = t;
  return e;
}

EventBatch Batch(std::vector<Event> events) {
  EventBatch b;
  for (size_t i = 0; i < events.size(); ++i) b.indices.push_back(i * 2);
  b.events = std::move(events);
  return b;
}

TEST(EventTest, TimestampsOutsideTheWindowAreRefused) {
  EventLimits limits;  // 5 min ahead, 24 h back
  EventBatch batch = Batch({
      At("", absl::InfinitePast()),  // not given: arrival time
      At("", kNow + absl::Minutes(5)),
      At("", kNow + absl::Minutes(5) + absl::Seconds(1)),
      At("", kNow - absl::Hours(24)),
      At("", kNow - absl::Hours(24) - absl::Seconds(1)),
      At("", absl::FromUnixSeconds(0)),
  });
  ScreenEvents(&batch, kNow, limits);
  EXPECT_EQ(batch.events.size(), 3u);
  EXPECT_EQ(batch.indices, (std::vector<size_t>{0, 2, 6}));
  ASSERT_EQ(batch.errors.size(), 3u);
  EXPECT_EQ(batch.errors[0].index, 4u);
  EXPECT_EQ(batch.errors[0].field, "timestamp");
  EXPECT_EQ(batch.errors[0].reason,
            "2023-11-14T22:18:21Z is 5m1s ahead of the agent's clock, limit "
            "5m (--max_clock_skew)");
  EXPECT_EQ(batch.errors[0].limit, "clock_skew");
  EXPECT_EQ(batch.errors[1].index, 8u);
  EXPECT_EQ(batch.errors[1].reason,
            "2023-11-13T22:13:19Z is 24h1s old by the agent's clock, limit "
            "24h (--max_event_age)");
  EXPECT_EQ(batch.errors[1].limit, "event_age");
  EXPECT_EQ(batch.errors[2].index, 10u);
  EXPECT_EQ(batch.errors[2].limit, "event_age");
}

TEST(EventTest, LabelsAreRefusedFromTheFutureOnly) {
  LabelBatch batch;
  for (absl::Duration d : {-absl::Hours(24 * 30), absl::Hours(1)}) {
    LabelEvent l;
    l.prediction_id = absl::StrCat("p", batch.labels.size());
    l.label.kind = Outcome::Kind::kClass;
    l.label.class_label = "1";
    l.timestamp = kNow + d;
    batch.indices.push_back(batch.labels.size());
    batch.labels.push_back(l);
  }
  ScreenLabels(&batch, kNow, EventLimits());
  ASSERT_EQ(batch.labels.size(), 1u);
  EXPECT_EQ(batch.labels[0].prediction_id, "p0");
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].limit, "clock_skew");
}

TEST(EventTest, RepeatedPredictionIdsInARequestCountOnce) {
  EventBatch batch =
      Batch({At("a", absl::InfinitePast()), At("b", absl::InfinitePast()),
             At("a", absl::InfinitePast()), At("", absl::InfinitePast()),
             At("", absl::InfinitePast()), At("a", absl::InfinitePast())});
  ScreenEvents(&batch, kNow, EventLimits());
  EXPECT_EQ(batch.indices, (std::vector<size_t>{0, 2, 6, 8}));
  ASSERT_EQ(batch.errors.size(), 2u);
  EXPECT_EQ(batch.errors[0].index, 4u);
  EXPECT_TRUE(batch.errors[0].duplicate);
  EXPECT_EQ(batch.errors[0].field, "prediction_id");
  EXPECT_EQ(batch.errors[0].reason,
            "'a' repeats the event at index 0 of this request; counted once");
  EXPECT_EQ(batch.errors[1].index, 10u);

  LabelBatch labels;
  for (const char* id : {"x", "x", "y"}) {
    LabelEvent l;
    l.prediction_id = id;
    labels.indices.push_back(labels.labels.size());
    labels.labels.push_back(l);
  }
  ScreenLabels(&labels, kNow, EventLimits());
  EXPECT_EQ(labels.labels.size(), 2u);
  ASSERT_EQ(labels.errors.size(), 1u);
  EXPECT_EQ(labels.errors[0].index, 1u);
  EXPECT_TRUE(labels.errors[0].duplicate);
}

TEST(EventTest, RejectEventsKeepsErrorsInRequestOrder) {
  EventBatch batch =
      Batch({At("a", absl::InfinitePast()), At("b", absl::InfinitePast()),
             At("c", absl::InfinitePast())});
  EventError earlier;
  earlier.index = 3;
  batch.errors.push_back(earlier);
  EventError dup;
  dup.field = "prediction_id";
  RejectEvents(&batch, {{2, dup}, {0, dup}});
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].prediction_id, "b");
  EXPECT_EQ(batch.indices, (std::vector<size_t>{2}));
  ASSERT_EQ(batch.errors.size(), 3u);
  EXPECT_EQ(batch.errors[0].index, 0u);
  EXPECT_EQ(batch.errors[1].index, 3u);
  EXPECT_EQ(batch.errors[2].index, 4u);
}

TEST(EventTest, ProtoEventsMeetTheSameLimitsAndValues) {
  EventLimits limits;
  limits.max_features = 2;
  v1::InferenceEvent in;
  (*in.mutable_features())["a"].set_number(
      std::numeric_limits<double>::quiet_NaN());
  (*in.mutable_features())["b"].set_number(
      std::numeric_limits<double>::infinity());
  Event out;
  EventError error;
  // Non-finite feature values are taken (data quality counts them).
  ASSERT_TRUE(EventFromProto(in, limits, &out, &error));
  (*in.mutable_features())["c"].set_category("x");
  EXPECT_FALSE(EventFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.reason, "3 features, limit 2 (--max_features_per_event)");
  EXPECT_EQ(error.limit, "features_per_event");
  in.clear_features();
  for (double bad : {std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity(), -0.5}) {
    in.set_score(bad);
    error = EventError();
    EXPECT_FALSE(EventFromProto(in, limits, &out, &error));
    EXPECT_EQ(error.field, "score");
    in.clear_score();
    in.set_latency_seconds(bad);
    EXPECT_FALSE(EventFromProto(in, limits, &out, &error));
    EXPECT_EQ(error.field, "latency");
    in.clear_latency_seconds();
  }
  in.mutable_label()->set_number(-std::numeric_limits<double>::infinity());
  EXPECT_FALSE(EventFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.field, "label");
  EXPECT_EQ(error.reason, "must be finite, got -inf");
  // A proto timestamp is kept for the screen, whatever its range.
  in.clear_label();
  in.mutable_timestamp()->set_seconds(int64_t{1} << 40);
  ASSERT_TRUE(EventFromProto(in, limits, &out, &error));
  EventBatch batch;
  batch.events.push_back(out);
  batch.indices.push_back(0);
  ScreenEvents(&batch, kNow, limits);
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].limit, "clock_skew");
}

TEST(EventTest, ProtoLabelsNeedAnIdAndAFiniteLabel) {
  EventLimits limits;
  v1::LabelEvent in;
  LabelEvent out;
  EventError error;
  EXPECT_FALSE(LabelFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.field, "prediction_id");
  in.set_prediction_id("p1");
  EXPECT_FALSE(LabelFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.field, "label");
  EXPECT_EQ(error.reason, "required");
  in.mutable_label()->set_number(std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(LabelFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.reason, "must be finite, got nan");
  in.mutable_label()->set_class_label(std::string(200, 'c'));
  EXPECT_FALSE(LabelFromProto(in, limits, &out, &error));
  EXPECT_EQ(error.limit, "name_bytes");
  in.mutable_label()->set_number(1);
  EXPECT_TRUE(LabelFromProto(in, limits, &out, &error));
}

}  // namespace
}  // namespace aims

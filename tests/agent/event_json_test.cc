#include "common/intake/event_json.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
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
      {"prediction": 1, "score": "high"},
      {"score": 1.5},
      {"features": {"age": [1]}},
      {"latency_ms": -1},
      "not an object",
      {"prediction": "a"}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  EXPECT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.indices, (std::vector<size_t>{0, 6}));
  ASSERT_EQ(batch.errors.size(), 5u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_EQ(batch.errors[0].field, "score");
  EXPECT_EQ(batch.errors[0].reason, "expected number, got string");
  EXPECT_EQ(batch.errors[1].field, "score");
  EXPECT_NE(batch.errors[1].reason.find("[0, 1]"), std::string::npos);
  EXPECT_EQ(batch.errors[2].field, "features.age");
  EXPECT_EQ(batch.errors[2].reason,
            "expected number, string, bool or null, got array");
  EXPECT_EQ(batch.errors[3].field, "latency");
  EXPECT_EQ(batch.errors[4].index, 5u);
  EXPECT_EQ(batch.errors[4].reason, "expected object, got string");
  for (const EventError& e : batch.errors) EXPECT_TRUE(e.limit.empty());
}

TEST(EventJsonTest, UnknownFieldsAreIgnoredWithAWarning) {
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([
      {"prediction": 1, "featurez": {"a": 1}, "colour": "red"},
      {"prediction": 1}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  EXPECT_EQ(batch.events.size(), 2u);
  EXPECT_TRUE(batch.errors.empty());
  EXPECT_EQ(batch.unknown_fields, 2u);
  ASSERT_EQ(batch.warnings.size(), 2u);
  EXPECT_EQ(batch.warnings[0].index, 0u);
  EXPECT_EQ(batch.warnings[0].field, "featurez");
  EXPECT_EQ(batch.warnings[1].field, "colour");
  EXPECT_NE(batch.warnings[1].reason.find("ignored"), std::string::npos);
  // Labels alike; and at most kMaxWarnings are listed, all are counted.
  std::string labels = "[";
  for (int i = 0; i < 150; ++i) {
    absl::StrAppend(&labels, i ? "," : "", R"({"prediction_id":"p)", i,
                    R"(","label":1,"source":"crm"})");
  }
  LabelBatch label_batch;
  ASSERT_TRUE(
      ParseLabelBatch(labels + "]", JsonIntakeLimits(), &label_batch).ok());
  EXPECT_EQ(label_batch.labels.size(), 150u);
  EXPECT_EQ(label_batch.unknown_fields, 150u);
  EXPECT_EQ(label_batch.warnings.size(), kMaxWarnings);
}

TEST(EventJsonTest, NonFiniteNumbers) {
  // JSON has no NaN literal; proto3's spellings stand for the numbers.
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([
      {"features": {"x": "NaN", "y": "Infinity", "z": "-Infinity", "c": "nan"}},
      {"score": "NaN"},
      {"latency_ms": "Infinity"},
      {"label": "NaN"},
      {"prediction": "-Infinity"},
      {"probabilities": {"a": "NaN"}},
      {"features": {"x": 1e308}}])",
                              JsonIntakeLimits(), &batch)
                  .ok());
  ASSERT_EQ(batch.events.size(), 2u);
  const auto& f = batch.events[0].features;
  EXPECT_EQ(f[0].second.kind, FeatureValue::Kind::kNumber);
  EXPECT_TRUE(std::isnan(f[0].second.number));
  EXPECT_EQ(f[1].second.number, std::numeric_limits<double>::infinity());
  EXPECT_EQ(f[2].second.number, -std::numeric_limits<double>::infinity());
  // Only the exact spellings: "nan" stays a category.
  EXPECT_EQ(f[3].second.kind, FeatureValue::Kind::kCategory);
  EXPECT_EQ(batch.events[1].features[0].second.number, 1e308);
  ASSERT_EQ(batch.errors.size(), 5u);
  EXPECT_EQ(batch.errors[0].field, "score");
  EXPECT_EQ(batch.errors[0].reason, "must be a probability in [0, 1], got nan");
  EXPECT_EQ(batch.errors[1].field, "latency");
  EXPECT_EQ(batch.errors[2].field, "label");
  EXPECT_EQ(batch.errors[2].reason, "must be finite, got nan");
  EXPECT_EQ(batch.errors[3].field, "prediction");
  EXPECT_EQ(batch.errors[4].field, "probabilities.a");
}

// An array body of `n` events {"features": {"x": i}}.
std::string Events(int n) {
  std::string body = "[";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&body, i ? "," : "", R"({"features":{"x":)", i, "}}");
  }
  return body + "]";
}

// Parsers and their buffers are kept between calls: a body parsed after a
// longer one sees none of its bytes (a truncated prefix is refused, a short
// body reads as itself), from one thread or four at once, with bodies over
// the 1 MiB beyond which parsers are not kept.
TEST(EventJsonTest, ReusedParsersSeeOnlyTheirOwnBody) {
  const std::string full = Events(2000);
  EventBatch batch;
  for (size_t cut : {full.size() - 1, full.size() / 2, size_t{30}, size_t{2}}) {
    ASSERT_TRUE(ParseEventBatch(full, JsonIntakeLimits(), &batch).ok());
    ASSERT_EQ(batch.events.size(), 2000u);
    EXPECT_EQ(
        ParseEventBatch(full.substr(0, cut), JsonIntakeLimits(), &batch).code(),
        absl::StatusCode::kInvalidArgument)
        << cut;
  }
  ASSERT_TRUE(ParseEventBatch(full, JsonIntakeLimits(), &batch).ok());
  ASSERT_TRUE(
      ParseEventBatch(R"([{"features":{"x":7}}])", JsonIntakeLimits(), &batch)
          .ok());
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].features[0].second.number, 7);

  const std::string big = Events(70000);  // over 1 MiB
  ASSERT_GT(big.size(), size_t{1} << 20);
  JsonIntakeLimits limits;
  limits.max_events_per_batch = 100000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string small = Events(10 + t);
      for (int r = 0; r < 12; ++r) {
        const bool large = (t + r) % 3 == 0;
        EventBatch b;
        if (!ParseEventBatch(large ? big : small, limits, &b).ok() ||
            b.events.size() != (large ? 70000u : 10u + t) ||
            b.events.back().features[0].second.number !=
                (large ? 69999 : 9 + t)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(EventJsonTest, NumberBeyondADoubleAndTruncatedBodiesNameTheOffset) {
  EventBatch batch;
  // Array: the whole body is refused, naming where.
  absl::Status huge =
      ParseEventBatch("[{\"prediction\": 1},\n {\"score\": 1e999}]",
                      JsonIntakeLimits(), &batch);
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.message(),
            "body: not valid JSON at byte 31 (line 2, column 12): number "
            "1e999 is beyond the range of a double");
  const std::string full = R"([{"prediction": 1}, {"prediction": 0}])";
  for (size_t cut = 1; cut < full.size(); ++cut) {
    absl::Status truncated =
        ParseEventBatch(full.substr(0, cut), JsonIntakeLimits(), &batch);
    ASSERT_EQ(truncated.code(), absl::StatusCode::kInvalidArgument) << cut;
    EXPECT_NE(truncated.message().find(absl::StrCat("at byte ", cut, " ")),
              absl::string_view::npos)
        << truncated.message();
  }
  // JSON lines: only the broken line is refused, with its offset in the
  // body; the other lines count.
  ASSERT_TRUE(ParseEventBatch("{\"prediction\": 1}\n{\"score\": 1e999}\n"
                              "{\"prediction\": 0}\n{\"prediction\": 1, \"sc",
                              JsonIntakeLimits(), &batch)
                  .ok());
  EXPECT_EQ(batch.events.size(), 2u);
  ASSERT_EQ(batch.errors.size(), 2u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_EQ(batch.errors[0].reason,
            "not valid JSON at byte 28: number 1e999 is beyond the range of a "
            "double");
  EXPECT_EQ(batch.errors[1].index, 3u);
  EXPECT_EQ(batch.errors[1].reason,
            "not valid JSON at byte 74: unexpected end of input (truncated?)");
}

TEST(EventJsonTest, ErrorsDoNotEchoLongKeys) {
  EventBatch batch;
  const std::string key(5000, 'k');
  ASSERT_TRUE(
      ParseEventBatch(absl::StrCat(R"([{"features":{")", key, R"(":[1]}}])"),
                      JsonIntakeLimits(), &batch)
          .ok());
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].field, "features." + key.substr(0, 128));
}

TEST(EventJsonTest, OneObjectOverSeveralLinesIsOneEvent) {
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch("{\n  \"prediction\": 1,\n  \"score\": 0.5\n}\n",
                              JsonIntakeLimits(), &batch)
                  .ok());
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_TRUE(batch.errors.empty());
  EXPECT_DOUBLE_EQ(*batch.events[0].score, 0.5);
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
  EXPECT_EQ(too_many.message(),
            "body: 3 items, limit 2 (--max_events_per_batch)");
  EXPECT_EQ(LimitOf(too_many), "events_per_batch");
  too_many = ParseEventBatch("{}\n{}\n{}\n", small, &batch);
  EXPECT_EQ(too_many.message(),
            "body: more than 2 items, limit 2 (--max_events_per_batch)");
  EXPECT_EQ(LimitOf(too_many), "events_per_batch");
  EXPECT_EQ(LimitOf(ParseEventBatch("[{", small, &batch)), "");
}

TEST(EventJsonTest, LimitsNameTheFieldTheLimitAndTheFlag) {
  JsonIntakeLimits limits;
  limits.event.max_features = 2;
  limits.event.max_string_bytes = 4;
  limits.event.max_name_bytes = 3;
  limits.event.max_attributes = 1;
  limits.event.max_probabilities = 1;
  limits.event.max_prediction_id_bytes = 2;
  EventBatch batch;
  ASSERT_TRUE(ParseEventBatch(R"([{"features": {"a": 1, "b": 2, "c": 3}},
                                   {"features": {"a": "toolong"}},
                                   {"features": {"long": 1}},
                                   {"attributes": {"a": "x", "b": "y"}},
                                   {"attributes": {"a": "toolong"}},
                                   {"probabilities": {"a": 0.5, "b": 0.5}},
                                   {"prediction_id": "abc"},
                                   {"prediction": "long"},
                                   {"features": {"a": 1, "b": "ok"}}])",
                              limits, &batch)
                  .ok());
  EXPECT_EQ(batch.events.size(), 1u);
  ASSERT_EQ(batch.errors.size(), 8u);
  const std::pair<const char*, const char*> expected[] = {
      {"features", "3 features, limit 2 (--max_features_per_event)"},
      {"features.a", "string is 7 bytes, limit 4 (--max_string_bytes)"},
      {"features.long", "name is 4 bytes, limit 3 (--max_name_bytes)"},
      {"attributes", "2 attributes, limit 1 (--max_attributes_per_event)"},
      {"attributes.a", "value is 7 bytes, limit 4 (--max_string_bytes)"},
      {"probabilities", "2 classes, limit 1 (--max_probabilities_per_event)"},
      {"prediction_id", "3 bytes, limit 2 (--max_prediction_id_bytes)"},
      {"prediction", "class is 4 bytes, limit 3 (--max_name_bytes)"},
  };
  const char* names[] = {"features_per_event",  "string_bytes",
                         "name_bytes",          "attributes_per_event",
                         "string_bytes",        "probabilities_per_event",
                         "prediction_id_bytes", "name_bytes"};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(batch.errors[i].index, i);
    EXPECT_EQ(batch.errors[i].field, expected[i].first);
    EXPECT_EQ(batch.errors[i].reason, expected[i].second);
    EXPECT_EQ(batch.errors[i].limit, names[i]);
  }
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

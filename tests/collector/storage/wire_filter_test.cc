// CopyWithoutField against protobuf's own parser: the filtered bytes parse
// to the message with the field cleared, everything else (other fields,
// unknown fields, order) intact; broken input is refused. SoleField finds a
// message's only field and nothing else. SplitFields separates top-level
// fields.
#include "collector/storage/wire_filter.h"

#include "aims/v1/ingest.pb.h"
#include "aims/v1/storage.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

constexpr int kSketchPath[] = {v1::WindowReport::kSummaryFieldNumber,
                               v1::WindowSummary::kFeaturesFieldNumber,
                               v1::FeatureSummary::kSketchFieldNumber};

v1::WindowReport Report() {
  v1::WindowReport r;
  r.set_agent_id("a1");
  r.set_sequence(42);
  v1::WindowSummary* s = r.mutable_summary();
  s->set_profile_id("p1");
  s->mutable_operational()->set_event_count(200);
  for (int i = 0; i < 3; ++i) {
    v1::FeatureSummary* f = s->add_features();
    f->set_name(std::string("f") + char('0' + i));
    f->set_n(100 + i);
    f->set_sum(1.5 * i);
    f->mutable_histogram()->add_counts(7);
    f->mutable_histogram()->add_counts(1u << 30);
    if (i != 1) {  // one feature without a sketch
      f->mutable_sketch()->set_relative_accuracy(0.01);
      f->mutable_sketch()->set_count(1000);
      for (int k = 0; k < 50; ++k) {
        f->mutable_sketch()->add_positive_counts(k * 1000);
      }
    }
  }
  s->add_attributes()->set_attribute("zip");
  return r;
}

TEST(WireFilterTest, DropsTheNestedFieldAndKeepsEverythingElse) {
  const v1::WindowReport report = Report();
  std::string out;
  ASSERT_TRUE(CopyWithoutField(report.SerializeAsString(), kSketchPath, &out));
  v1::WindowReport parsed;
  ASSERT_TRUE(parsed.ParseFromString(out));
  v1::WindowReport expected = report;
  for (auto& f : *expected.mutable_summary()->mutable_features()) {
    f.clear_sketch();
  }
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString();
  EXPECT_LT(out.size(), report.ByteSizeLong() / 2);
  // Deterministic serialization of the expected message is byte-equal: no
  // field moved.
  EXPECT_EQ(out, expected.SerializeAsString());
}

TEST(WireFilterTest, RollupBucketsAndUnknownFields) {
  v1::RollupBucket bucket;
  bucket.set_report_count(9);
  *bucket.mutable_summary() = Report().summary();
  std::string bytes = bucket.SerializeAsString();
  bytes += std::string("\xa8\x1f\x05", 3);  // unknown field 501 = 5
  std::string out;
  ASSERT_TRUE(CopyWithoutField(bytes,
                               {v1::RollupBucket::kSummaryFieldNumber,
                                v1::WindowSummary::kFeaturesFieldNumber,
                                v1::FeatureSummary::kSketchFieldNumber},
                               &out));
  v1::RollupBucket parsed;
  ASSERT_TRUE(parsed.ParseFromString(out));
  EXPECT_EQ(parsed.report_count(), 9u);
  ASSERT_EQ(parsed.summary().features_size(), 3);
  for (const auto& f : parsed.summary().features()) {
    EXPECT_FALSE(f.has_sketch());
    EXPECT_EQ(f.histogram().counts(1), 1u << 30);
  }
  EXPECT_EQ(parsed.GetReflection()->GetUnknownFields(parsed).field_count(), 1);
}

TEST(WireFilterTest, EmptyPathCopiesAndBrokenInputIsRefused) {
  const std::string bytes = Report().SerializeAsString();
  std::string out;
  ASSERT_TRUE(CopyWithoutField(bytes, {}, &out));
  EXPECT_EQ(out, bytes);
  // Cut inside a feature: every prefix shorter than the whole is refused
  // or, where it ends on a field boundary, copied as far as it goes.
  for (size_t cut = 1; cut < bytes.size(); cut += 7) {
    out.clear();
    const std::string prefix = bytes.substr(0, cut);
    v1::WindowReport parsed;
    const bool parses = parsed.ParseFromString(prefix);
    EXPECT_EQ(CopyWithoutField(prefix, kSketchPath, &out), parses)
        << "cut at " << cut;
  }
  out.clear();
  EXPECT_FALSE(CopyWithoutField(std::string("\x2a\x7f", 2), kSketchPath, &out));
}

// A report's join records and labels split from the rest: each part parses
// to the report with the other's fields cleared; broken input is refused.
TEST(WireFilterTest, SplitFieldsSeparatesTopLevelFields) {
  v1::WindowReport report = Report();
  for (int i = 0; i < 3; ++i) {
    v1::PendingPrediction* p = report.add_predictions();
    p->set_prediction_id("p" + std::to_string(i));
    (*p->mutable_groups())["gender"] = "f";
    report.add_labels()->set_prediction_id("l" + std::to_string(i));
  }
  report.mutable_window_end()->set_seconds(60);  // a field after them
  const std::string bytes = report.SerializeAsString();
  std::string kept, taken;
  ASSERT_TRUE(SplitFields(bytes,
                          {v1::WindowReport::kPredictionsFieldNumber,
                           v1::WindowReport::kLabelsFieldNumber},
                          &kept, &taken));
  EXPECT_EQ(kept.size() + taken.size(), bytes.size());
  v1::WindowReport without, only;
  ASSERT_TRUE(without.ParseFromString(kept));
  ASSERT_TRUE(only.ParseFromString(taken));
  v1::WindowReport expected_without = report;
  expected_without.clear_predictions();
  expected_without.clear_labels();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      without, expected_without));
  v1::WindowReport expected_only;
  *expected_only.mutable_predictions() = report.predictions();
  *expected_only.mutable_labels() = report.labels();
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(only, expected_only));
  kept.clear();
  taken.clear();
  EXPECT_FALSE(SplitFields(bytes.substr(0, bytes.size() - 1),
                           {v1::WindowReport::kPredictionsFieldNumber}, &kept,
                           &taken));
}

TEST(WireFilterTest, SoleFieldIsTheOnlyFieldsPayload) {
  constexpr int kReport = v1::IngestRequest::kReportFieldNumber;
  v1::IngestRequest request;
  *request.mutable_report() = Report();
  const std::string bytes = request.SerializeAsString();
  const std::optional<absl::string_view> sole = SoleField(bytes, kReport);
  ASSERT_TRUE(sole.has_value());
  EXPECT_EQ(*sole, request.report().SerializeAsString());
  EXPECT_EQ(sole->data() + sole->size(), bytes.data() + bytes.size());

  // Another field number, or anything beside the field: not sole.
  EXPECT_FALSE(SoleField(bytes, kReport + 1).has_value());
  EXPECT_FALSE(SoleField(bytes + bytes, kReport).has_value());  // merged
  EXPECT_FALSE(
      SoleField(bytes + std::string("\xa8\x1f\x05", 3), kReport).has_value());
  EXPECT_FALSE(SoleField("", kReport).has_value());
  // Same number with the varint wire type.
  EXPECT_FALSE(SoleField(std::string("\x08\x05", 2), 1).has_value());
  // Truncated anywhere: never a view past the end.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(SoleField(bytes.substr(0, cut), kReport).has_value())
        << "cut at " << cut;
  }
  // Lengths protobuf's parser refuses: 2^32 - 1, and 3 written in 6 bytes.
  EXPECT_FALSE(
      SoleField(std::string("\x0a\xff\xff\xff\xff\x0f", 6), 1).has_value());
  EXPECT_FALSE(SoleField(std::string("\x0a\x83\x80\x80\x80\x80\x00xyz", 10), 1)
                   .has_value());
  v1::IngestRequest overlong;
  EXPECT_FALSE(overlong.ParseFromString(
      std::string("\x12\x83\x80\x80\x80\x80\x00xyz", 10)));
  // An empty payload is still a sole field.
  const std::optional<absl::string_view> empty =
      SoleField(std::string("\x0a\x00", 2), 1);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace aims::collector

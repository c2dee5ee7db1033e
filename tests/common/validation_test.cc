#include "common/validation.h"

#include "absl/strings/match.h"
#include "common/time_util.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

v1::WindowReport ValidReport() {
  v1::WindowReport r;
  r.set_agent_id("a1");
  r.set_sequence(1);
  *r.mutable_window_start() = ToProto(absl::FromUnixSeconds(100));
  *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(110));
  return r;
}

void ExpectInvalid(const absl::Status& s, absl::string_view field,
                   absl::string_view detail) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), field)) << s;
  EXPECT_NE(s.message().find(detail), absl::string_view::npos) << s;
}

TEST(ValidationTest, ModelRefNamesFieldAndRule) {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  EXPECT_TRUE(ValidateModelRef(m).ok());
  m.set_name("cred it");
  ExpectInvalid(ValidateModelRef(m), "model.name", "not allowed");
  m.set_name(std::string(200, 'a'));
  ExpectInvalid(ValidateModelRef(m), "model.name", "limit 128");
  m.set_name("credit");
  m.set_environment("");
  ExpectInvalid(ValidateModelRef(m), "model.environment", "required");
}

TEST(ValidationTest, ReportRules) {
  ReportLimits limits;
  EXPECT_TRUE(ValidateReport(ValidReport(), "a1", limits).ok());
  ExpectInvalid(ValidateReport(ValidReport(), "a2", limits), "report.agent_id",
                "differs");
  v1::WindowReport r = ValidReport();
  r.set_sequence(0);
  ExpectInvalid(ValidateReport(r, "a1", limits), "report.sequence", ">= 1");
  r = ValidReport();
  *r.mutable_window_end() = r.window_start();
  ExpectInvalid(ValidateReport(r, "a1", limits), "report.window_end", "after");
  r = ValidReport();
  *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(100 + 2 * 86400));
  ExpectInvalid(ValidateReport(r, "a1", limits), "report.window_end",
                "limit 86400 s");
  r = ValidReport();
  r.mutable_summary()->add_features()->set_name("b");
  r.mutable_summary()->add_features()->set_name("a");
  ExpectInvalid(ValidateReport(r, "a1", limits),
                "report.summary.features[1].name", "sorted");
  r = ValidReport();
  limits.max_features = 1;
  r.mutable_summary()->add_features()->set_name("a");
  r.mutable_summary()->add_features()->set_name("b");
  ExpectInvalid(ValidateReport(r, "a1", limits), "report.summary.features",
                "limit 1");
  r = ValidReport();
  r.mutable_summary()->mutable_performance()->mutable_confusion()->add_classes(
      "x");
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.performance.confusion.counts", "n*n");
  r = ValidReport();
  r.mutable_summary()
      ->mutable_operational()
      ->mutable_latency_seconds()
      ->set_count(5);
  r.mutable_summary()
      ->mutable_operational()
      ->mutable_latency_seconds()
      ->set_relative_accuracy(0.01);
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.operational.latency_seconds", "bucket total");
}

TEST(ValidationTest, HelloNeedsProtocolVersionOne) {
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id("a1");
  hello.mutable_model()->set_name("m");
  hello.mutable_model()->set_version("1");
  hello.mutable_model()->set_environment("e");
  ExpectInvalid(ValidateHello(hello), "hello.protocol_version", "speaks 1");
  hello.set_protocol_version(1);
  EXPECT_TRUE(ValidateHello(hello).ok());
  hello.mutable_agent()->set_agent_id("has space");
  ExpectInvalid(ValidateHello(hello), "hello.agent.agent_id", "printable");
}

}  // namespace
}  // namespace aims

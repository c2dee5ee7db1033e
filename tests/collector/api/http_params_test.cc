// Query parameters of the collector's HTTP API, parsed without a server.
#include "collector/api/http_params.h"

#include <string>

#include "absl/strings/match.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

HttpRequest Query(const std::string& text) {
  HttpRequest req;
  req.query = ParseQuery(text);
  return req;
}

TEST(HttpParamsTest, TimesAreUnixSecondsOrRfc3339) {
  absl::Time t;
  ASSERT_TRUE(
      ParseTimeParam(Query("from=1767225600.5"), "from", absl::Now(), &t).ok());
  EXPECT_EQ(t, absl::FromUnixMillis(1767225600500));
  ASSERT_TRUE(ParseTimeParam(Query("from=2026-01-01T01:00:00%2B01:00"), "from",
                             absl::Now(), &t)
                  .ok());
  EXPECT_EQ(t, absl::FromUnixSeconds(1767225600));
  const absl::Time fallback = absl::FromUnixSeconds(42);
  ASSERT_TRUE(ParseTimeParam(Query("to=1"), "from", fallback, &t).ok());
  EXPECT_EQ(t, fallback);
  absl::Status s =
      ParseTimeParam(Query("from=yesterday"), "from", fallback, &t);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "from: 'yesterday' is neither RFC 3339 nor Unix seconds");
}

TEST(HttpParamsTest, ScopeIsFleetOrCollector) {
  CallScope scope = CallScope::kCollector;
  ASSERT_TRUE(ParseScope(Query(""), &scope).ok());
  EXPECT_EQ(scope, CallScope::kFleet);
  ASSERT_TRUE(ParseScope(Query("scope=collector"), &scope).ok());
  EXPECT_EQ(scope, CallScope::kCollector);
  ASSERT_TRUE(ParseScope(Query("scope=fleet"), &scope).ok());
  EXPECT_EQ(scope, CallScope::kFleet);
  const absl::Status s = ParseScope(Query("scope=local"), &scope);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "scope: 'local' is not fleet or collector");
}

// Found by tests/fuzz/http_params_fuzz.cc: "inf" (and "nan", "1e300") parse
// as numbers, and converting them to microseconds was undefined behaviour.
TEST(HttpParamsTest, UnixSecondsOutsideTimestampRangeAreRefused) {
  for (const char* text : {"inf", "-inf", "nan", "1e300", "-1e300",
                           "253402300800", "-62135596801"}) {
    absl::Time t;
    const absl::Status s =
        ParseTimeParam(Query(std::string("to=") + text), "to", absl::Now(), &t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_TRUE(absl::StartsWith(s.message(), "to: '")) << s.message();
    EXPECT_TRUE(absl::StrContains(s.message(), "out of range")) << s.message();
  }
  absl::Time t;
  ASSERT_TRUE(
      ParseTimeParam(Query("to=253402300799"), "to", absl::Now(), &t).ok());
  EXPECT_EQ(t, absl::FromUnixSeconds(253402300799));
}

TEST(HttpParamsTest, RangeWithDefaultsAndStep) {
  v1::ModelRef model;
  google::protobuf::Timestamp from, to;
  google::protobuf::Duration step;
  ASSERT_TRUE(
      ParseRange(Query("name=credit&version=v1&from=100&to=200&step=5m"),
                 &model, &from, &to, &step)
          .ok());
  EXPECT_EQ(model.name(), "credit");
  EXPECT_EQ(model.version(), "v1");
  EXPECT_EQ(model.environment(), "default");
  EXPECT_EQ(from.seconds(), 100);
  EXPECT_EQ(to.seconds(), 200);
  EXPECT_EQ(step.seconds(), 300);

  const absl::Time before = absl::Now();
  google::protobuf::Duration untouched;
  ASSERT_TRUE(
      ParseRange(Query("environment=prod"), &model, &from, &to, &untouched)
          .ok());
  EXPECT_EQ(model.environment(), "prod");
  EXPECT_GE(FromProto(to), before);
  EXPECT_EQ(FromProto(to) - FromProto(from), absl::Hours(1));
  EXPECT_EQ(untouched.seconds(), 0);

  absl::Status s = ParseRange(Query("step=10"), &model, &from, &to, &step);
  EXPECT_EQ(s.message(), "step: '10' is not a duration such as 10s");
  s = ParseRange(Query("to=nan"), &model, &from, &to, &step);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpParamsTest, ReportParams) {
  v1::ComplianceReportRequest request;
  ASSERT_TRUE(ParseReportParams(Query("from=100&bucket=1h"), &request).ok());
  EXPECT_EQ(request.from().seconds(), 100);
  EXPECT_FALSE(request.has_to());
  EXPECT_EQ(request.bucket().seconds(), 3600);
  EXPECT_EQ(ParseReportParams(Query("bucket=1x"), &request).message(),
            "bucket: '1x' is not a duration such as 1h");
  EXPECT_EQ(ParseReportParams(Query("to=inf"), &request).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aims::collector

#include "common/summary/validation.h"

#include <functional>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
#include "common/base/time_util.h"
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

TEST(ValidationTest, ReportLimitsNameTheFlag) {
  ReportLimits limits;
  limits.max_features = 1;
  limits.max_attributes = 1;
  limits.max_groups_per_attribute = 2;
  limits.max_classes = 2;
  limits.max_slice_values = 2;
  limits.max_bins = 3;
  limits.max_name_bytes = 4;
  limits.max_value_bytes = 10;
  limits.max_window_seconds = 5;
  struct Case {
    std::function<void(v1::WindowReport*)> make;
    const char* message;
    const char* limit;
  };
  const Case cases[] = {
      {[](v1::WindowReport* r) {
         r->mutable_summary()->add_features()->set_name("a");
         r->mutable_summary()->add_features()->set_name("b");
       },
       "report.summary.features: 2 features, limit 1 "
       "(--max_report_features)",
       "report_features"},
      {[](v1::WindowReport* r) {
         r->mutable_summary()->add_attributes()->set_attribute("a");
         r->mutable_summary()->add_attributes()->set_attribute("b");
       },
       "report.summary.attributes: 2 attributes, limit 1 "
       "(--max_report_attributes)",
       "report_attributes"},
      {[](v1::WindowReport* r) {
         auto* a = r->mutable_summary()->add_attributes();
         a->set_attribute("g");
         for (int i = 0; i < 3; ++i) a->add_groups();
       },
       "report.summary.attributes[0].groups: 3 groups, limit 2 "
       "(--max_report_groups_per_attribute)",
       "report_groups_per_attribute"},
      {[](v1::WindowReport* r) {
         auto* cm =
             r->mutable_summary()->mutable_performance()->mutable_confusion();
         for (const char* c : {"a", "b", "c"}) cm->add_classes(c);
       },
       "report.summary.performance.confusion.classes: 3 classes, limit 2 "
       "(--max_report_classes)",
       "report_classes"},
      {[](v1::WindowReport* r) {
         auto* f = r->mutable_summary()->add_features();
         f->set_name("a");
         for (int i = 0; i < 4; ++i) f->mutable_histogram()->add_counts(1);
       },
       "report.summary.features[0].histogram: 4 bins, limit 3 "
       "(--max_report_bins)",
       "report_bins"},
      {[](v1::WindowReport* r) {
         r->mutable_summary()->add_features()->set_name("abcde");
       },
       "report.summary.features[0].name: 5 bytes, limit 4 "
       "(--max_report_name_bytes)",
       "report_name_bytes"},
      {[](v1::WindowReport* r) {
         auto* a = r->mutable_summary()->add_attributes();
         a->set_attribute("g");
         a->add_groups()->set_group(std::string(11, 'v'));
       },
       "report.summary.attributes[0].groups[0].group: 11 bytes, limit 10 "
       "(--max_report_value_bytes)",
       "report_value_bytes"},
      {[](v1::WindowReport* r) {
         auto* cm =
             r->mutable_summary()->mutable_performance()->mutable_confusion();
         cm->add_classes("c");
         cm->add_classes("class");
         for (int i = 0; i < 4; ++i) cm->add_counts(0);
       },
       "report.summary.performance.confusion.classes[1]: 5 bytes, limit 4 "
       "(--max_report_name_bytes)",
       "report_name_bytes"},
      {[](v1::WindowReport* r) {
         (*r->mutable_summary()
               ->mutable_operational()
               ->mutable_rejected_by_reason())["toolong"] = 1;
       },
       "report.summary.operational.rejected_by_reason: 7 bytes, limit 4 "
       "(--max_report_name_bytes)",
       "report_name_bytes"},
      {[](v1::WindowReport* r) {
         auto* h =
             r->mutable_summary()->mutable_performance()->add_score_by_label();
         for (int i = 0; i < 4; ++i) h->add_counts(1);
       },
       "report.summary.performance.score_by_label[0]: 4 bins, limit 3 "
       "(--max_report_bins)",
       "report_bins"},
      {[](v1::WindowReport* r) {
         auto* k = r->mutable_summary()->add_slices();
         k->set_key("r");
         for (const char* v : {"a", "b", "c", "__other__"})
           k->add_values()->set_value(v);
       },
       "report.summary.slices[0].values: 3 values, limit 2 "
       "(--max_report_slice_values)",
       "report_slice_values"},
      {[](v1::WindowReport* r) {
         auto* k = r->mutable_summary()->add_slices();
         k->set_key("r");
         k->add_values()->set_value(std::string(11, 'v'));
       },
       "report.summary.slices[0].values[0].value: 11 bytes, limit 10 "
       "(--max_report_value_bytes)",
       "report_value_bytes"},
      {[](v1::WindowReport* r) {
         auto* k = r->mutable_summary()->add_slices();
         k->set_key("r");
         auto* sub = k->add_values()->mutable_summary();
         sub->add_features()->set_name("a");
         sub->add_features()->set_name("b");
       },
       "report.summary.slices[0].values[0]: report.summary.features: 2 "
       "features, limit 1 (--max_report_features)",
       "report_features"},
      {[](v1::WindowReport* r) {
         *r->mutable_window_end() = ToProto(absl::FromUnixSeconds(106));
       },
       "report.window_end: window spans 6 s, limit 5 s (--max_report_window)",
       "report_window"},
  };
  for (const Case& c : cases) {
    v1::WindowReport r = ValidReport();
    *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(104));
    c.make(&r);
    absl::Status s = ValidateReport(r, "a1", limits);
    EXPECT_EQ(s.message(), c.message);
    EXPECT_EQ(LimitOf(s), c.limit);
  }
}

TEST(ValidationTest, UnboundedMapsAndListsAreRefused) {
  v1::WindowReport r = ValidReport();
  auto* reasons =
      r.mutable_summary()->mutable_operational()->mutable_rejected_by_reason();
  for (size_t i = 0; i <= kMaxRejectionReasons; ++i) {
    (*reasons)[absl::StrCat("r", i)] = 1;
  }
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.operational.rejected_by_reason",
                "65 reasons, limit 64");
  r = ValidReport();
  for (int i = 0; i < 3; ++i) {
    r.mutable_summary()->mutable_performance()->add_score_by_label();
  }
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.performance.score_by_label", "3 histograms");
}

TEST(ValidationTest, NonFiniteSumsAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  v1::WindowReport r = ValidReport();
  r.mutable_summary()
      ->mutable_performance()
      ->mutable_probability()
      ->set_sum_brier(nan);
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.performance.probability", "finite");
  r = ValidReport();
  r.mutable_summary()
      ->mutable_performance()
      ->mutable_regression()
      ->set_sum_label(-inf);
  ExpectInvalid(ValidateReport(r, "a1", ReportLimits()),
                "report.summary.performance.regression", "finite");
  r = ValidReport();
  auto* f = r.mutable_summary()->add_features();
  f->set_name("x");
  f->set_sum_squares(inf);
  absl::Status s = ValidateReport(r, "a1", ReportLimits());
  ExpectInvalid(s, "report.summary.features[0].sum", "must be finite, got inf");
  EXPECT_EQ(LimitOf(s), "");
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

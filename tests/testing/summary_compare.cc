#include "tests/testing/summary_compare.h"

#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace aims::testing {

void ExpectSameSummary(const v1::WindowSummary& a, const v1::WindowSummary& b) {
  google::protobuf::util::MessageDifferencer diff;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_float_comparison(
      google::protobuf::util::DefaultFieldComparator::APPROXIMATE);
  comparator.SetDefaultFractionAndMargin(1e-12, 1e-9);
  diff.set_field_comparator(&comparator);
  std::string report;
  diff.ReportDifferencesToString(&report);
  EXPECT_TRUE(diff.Compare(a, b)) << report;
}

}  // namespace aims::testing

#include "ctl/format.h"

#include <cmath>

#include "gtest/gtest.h"

namespace aims::ctl {
namespace {

// A fleet listing that lacks a collector says so under its table.
TEST(FormatTest, UnansweredCollectorsAreNamed) {
  google::protobuf::RepeatedPtrField<std::string> none;
  EXPECT_EQ(UnansweredText(none), "");
  google::protobuf::RepeatedPtrField<std::string> one;
  one.Add("10.0.0.3:4317");
  EXPECT_EQ(UnansweredText(one),
            "INCOMPLETE: collector 10.0.0.3:4317 did not answer; this list "
            "lacks the entries it holds\n");
}

TEST(FormatTest, LatencyKeepsItsUnitAndThreeDigits) {
  EXPECT_EQ(Latency(2.96e-6), "2.96us");
  EXPECT_EQ(Latency(0.0204), "20.4ms");
  EXPECT_EQ(Latency(0.25), "250ms");
  EXPECT_EQ(Latency(1.25), "1.25s");
  EXPECT_EQ(Latency(0), "0us");
  // Values that round up to the next unit take it ("1ms", not "1e+03us").
  EXPECT_EQ(Latency(999.7e-6), "1ms");
  EXPECT_EQ(Latency(0.99972), "1s");
  EXPECT_EQ(Latency(4321), "4321s");
  EXPECT_EQ(Latency(std::nan("")), "-");
}

TEST(FormatTest, MetricNumberWritesLatencyMetricsAsDurations) {
  EXPECT_EQ(MetricNumber("latency_p99", 0.0204), "20.4ms");
  EXPECT_EQ(MetricNumber("latency_p50", 2.96e-6), "2.96us");
  EXPECT_EQ(MetricNumber("accuracy", 0.0204), "0.0204");
  EXPECT_EQ(MetricNumber("psi", 2.96e-6), "2.96e-06");
}

}  // namespace
}  // namespace aims::ctl

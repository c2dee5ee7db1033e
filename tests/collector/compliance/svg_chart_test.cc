// The report's SVG charts draw what they are given: one polyline per run of
// values, the band only where there is an interval, the threshold, a bar per
// non-zero count, and nothing at all without data.
#include "collector/compliance/svg_chart.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

LineChartSpec Spec() {
  LineChartSpec spec;
  spec.title = "accuracy <of> credit";
  spec.x_min = 0;
  spec.x_max = 100;
  spec.line_label = "accuracy";
  spec.x_text = [](double x) { return absl::StrCat("t", x); };
  spec.y_text = [](double y) { return absl::StrCat(y); };
  return spec;
}

TEST(SvgChartTest, LineChartPlacesEachValueAndTheThreshold) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  LineChartSpec spec = Spec();
  spec.points = {{0, 1, nan, nan}, {50, 0, nan, nan}, {100, 0.5, nan, nan}};
  spec.threshold = 0.5;
  spec.threshold_label = "threshold: at least 0.5";
  const std::string svg = LineChart(spec);
  EXPECT_EQ(svg.rfind("<svg class=\"chart\" role=\"img\"", 0), 0u) << svg;
  EXPECT_NE(svg.find("<title>accuracy &lt;of&gt; credit</title>"),
            std::string::npos);
  // x 0..100 across the plot (64 to 748 px); values 0..1 padded by 8% of
  // the span into the 180 px high plot (y 12 to 192): 1 at
  // 12 + 180 * 0.08 / 1.16, 0 at 12 + 180 * 1.08 / 1.16.
  EXPECT_NE(svg.find("points=\"64.0,24.4 406.0,179.6 748.0,102.0\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("<line class=\"threshold\" x1=\"64.0\" y1=\"102.0\""),
            std::string::npos)
      << svg;
  EXPECT_EQ(Count(svg, "<polygon"), 0);
  EXPECT_NE(svg.find(">threshold: at least 0.5</text>"), std::string::npos);
  EXPECT_NE(svg.find(">t0</text>"), std::string::npos);
  EXPECT_NE(svg.find(">t100</text>"), std::string::npos);
}

TEST(SvgChartTest, GapsSplitTheLineAndTheBand) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  LineChartSpec spec = Spec();
  spec.points = {{0, 0.9, 0.8, 1.0},  {10, 0.8, 0.7, 0.9}, {20, nan, nan, nan},
                 {30, 0.7, 0.6, 0.8}, {40, 0.6, nan, nan}, {50, nan, 0, 0},
                 {60, 0.5, 0.4, 0.6}};
  const std::string svg = LineChart(spec);
  EXPECT_EQ(Count(svg, "<polyline"), 2) << svg;         // 0-10, 30-40
  EXPECT_EQ(Count(svg, "<circle"), 1);                  // 60 alone
  EXPECT_EQ(Count(svg, "<polygon class=\"band\""), 1);  // 0-10 only
  spec.points = {{0, nan, nan, nan}};
  EXPECT_EQ(LineChart(spec), "");
}

TEST(SvgChartTest, BarChartHasABarPerNonZeroCount) {
  BarChartSpec spec;
  spec.title = "trend";
  spec.groups = {"mon", "tue", "wed"};
  spec.bars = {{"opened", "#d00", {1, 0, 4}}, {"closed", "#0a0", {0, 2, 1}}};
  spec.line = BarSeries{"open", "#f80", {1, 0, 3}};
  const std::string svg = BarChart(spec);
  EXPECT_EQ(Count(svg, "<rect class=\"bar\""), 4) << svg;
  EXPECT_NE(svg.find("<title>wed: 4 opened</title>"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 1);
  EXPECT_NE(svg.find(">mon</text>"), std::string::npos);
  EXPECT_NE(svg.find(">wed</text>"), std::string::npos);
  EXPECT_EQ(BarChart(BarChartSpec{}), "");
}

}  // namespace
}  // namespace aims::collector

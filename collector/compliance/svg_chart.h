// Inline SVG charts for the HTML compliance report: plain shapes (rect,
// polyline, line, text) with no script and no external font or stylesheet,
// so a chart prints and saves to PDF as it shows. Each chart has a <title>
// and a legend in words; colours are never the only cue (the threshold is
// dashed, bars are labelled in the legend).
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_COMPLIANCE_SVG_CHART_H_
#define AIMS_COLLECTOR_COMPLIANCE_SVG_CHART_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace aims::collector {

// A value over time. A NaN `y` breaks the line (no data there).
struct ChartPoint {
  double x = 0;  // Unix seconds
  double y = 0;
  // Interval drawn as a band around the line; NaN: none.
  double low = 0;
  double high = 0;
};

struct LineChartSpec {
  std::string title;  // read by screen readers, shown as a tooltip
  double x_min = 0;   // the period, Unix seconds
  double x_max = 0;
  std::vector<ChartPoint> points;
  std::string line_label;  // legend, e.g. "accuracy"
  std::optional<double> threshold;
  std::string threshold_label;  // legend, e.g. "threshold: at least 0.6"
  // Axis labels for a time and a value.
  std::function<std::string(double)> x_text;
  std::function<std::string(double)> y_text;
};

// One polyline per run of points with a value, a shaded band where they
// have an interval, the threshold as a dashed line; empty string when no
// point has a value.
std::string LineChart(const LineChartSpec& spec);

struct BarSeries {
  std::string label;           // legend, e.g. "opened"
  std::string color;           // CSS colour
  std::vector<double> values;  // one per group
};

struct BarChartSpec {
  std::string title;
  std::vector<std::string> groups;  // x labels, e.g. bucket starts
  std::vector<BarSeries> bars;      // side by side within a group
  // Drawn as a line over the bars, e.g. "open at the end of the bucket".
  std::optional<BarSeries> line;
};

std::string BarChart(const BarChartSpec& spec);

// "&", "<", ">", quotes as entities.
std::string XmlEscape(const std::string& s);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_SVG_CHART_H_

#include "collector/compliance/svg_chart.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace aims::collector {
namespace {

// Drawing area inside a 760 x 240 view box; the SVG scales to its column.
constexpr double kWidth = 760, kHeight = 240;
constexpr double kLeft = 64, kRight = 12, kTop = 12, kBottom = 48;
constexpr double kPlotW = kWidth - kLeft - kRight;
constexpr double kPlotH = kHeight - kTop - kBottom;

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

std::string Open(const std::string& title) {
  return absl::StrCat(
      "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 ", Num(kWidth), " ",
      Num(kHeight), "\" xmlns=\"http://www.w3.org/2000/svg\">\n<title>",
      XmlEscape(title), "</title>\n<rect x=\"", Num(kLeft), "\" y=\"",
      Num(kTop), "\" width=\"", Num(kPlotW), "\" height=\"", Num(kPlotH),
      "\" fill=\"#fafafa\" stroke=\"#999\"/>\n");
}

std::string Text(double x, double y, const std::string& anchor,
                 const std::string& text) {
  return absl::StrCat("<text x=\"", Num(x), "\" y=\"", Num(y),
                      "\" font-size=\"11\" text-anchor=\"", anchor, "\">",
                      XmlEscape(text), "</text>\n");
}

// A legend entry below the plot: a swatch (solid or dashed) and its label.
std::string Legend(double* x, const std::string& color, bool dashed,
                   const std::string& label) {
  const double y = kHeight - 10;
  std::string out = absl::StrCat(
      "<line x1=\"", Num(*x), "\" y1=\"", Num(y - 4), "\" x2=\"", Num(*x + 18),
      "\" y2=\"", Num(y - 4), "\" stroke=\"", color, "\" stroke-width=\"3\"",
      dashed ? " stroke-dasharray=\"6 3\"" : "", "/>\n",
      Text(*x + 22, y, "start", label));
  *x += 30 + 6.2 * static_cast<double>(label.size());
  return out;
}

}  // namespace

std::string XmlEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                 {"<", "&lt;"},
                                 {">", "&gt;"},
                                 {"\"", "&quot;"},
                                 {"'", "&#39;"}});
}

namespace {

// Data to drawing coordinates of a line chart.
struct Scale {
  double x_min, x_span, lo, hi;
  double X(double x) const {
    return kLeft + kPlotW * std::clamp((x - x_min) / x_span, 0.0, 1.0);
  }
  double Y(double y) const { return kTop + kPlotH * (hi - y) / (hi - lo); }
  std::string At(double x, double y) const {
    return absl::StrCat(Num(X(x)), ",", Num(Y(y)));
  }
};

// The interval band: one polygon per run of points with an interval.
std::string Band(const std::vector<ChartPoint>& points, const Scale& s) {
  std::string out;
  std::vector<const ChartPoint*> run;
  auto flush = [&]() {
    if (run.size() >= 2) {
      std::vector<std::string> pts;
      for (const ChartPoint* p : run) pts.push_back(s.At(p->x, p->high));
      for (auto it = run.rbegin(); it != run.rend(); ++it)
        pts.push_back(s.At((*it)->x, (*it)->low));
      absl::StrAppend(&out, "<polygon class=\"band\" points=\"",
                      absl::StrJoin(pts, " "),
                      "\" fill=\"#1f77b4\" fill-opacity=\"0.15\"/>\n");
    }
    run.clear();
  };
  for (const ChartPoint& p : points) {
    if (std::isfinite(p.y) && std::isfinite(p.low) && std::isfinite(p.high) &&
        p.low < p.high) {
      run.push_back(&p);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

// The values: a polyline per run with values, a dot for a lone point.
std::string Values(const std::vector<ChartPoint>& points, const Scale& s) {
  std::string out;
  std::vector<const ChartPoint*> run;
  auto flush = [&]() {
    if (run.size() == 1) {
      absl::StrAppend(&out, "<circle cx=\"", Num(s.X(run[0]->x)), "\" cy=\"",
                      Num(s.Y(run[0]->y)), "\" r=\"3\" fill=\"#1f77b4\"/>\n");
    } else if (run.size() > 1) {
      std::vector<std::string> pts;
      for (const ChartPoint* p : run) pts.push_back(s.At(p->x, p->y));
      absl::StrAppend(&out, "<polyline class=\"values\" points=\"",
                      absl::StrJoin(pts, " "),
                      "\" fill=\"none\" stroke=\"#1f77b4\" "
                      "stroke-width=\"2\"/>\n");
    }
    run.clear();
  };
  for (const ChartPoint& p : points) {
    if (std::isfinite(p.y)) {
      run.push_back(&p);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

}  // namespace

std::string LineChart(const LineChartSpec& spec) {
  double lo = INFINITY, hi = -INFINITY;
  auto widen = [&](double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (const ChartPoint& p : spec.points) {
    widen(p.y);
    if (std::isfinite(p.y)) {
      widen(p.low);
      widen(p.high);
    }
  }
  if (!std::isfinite(lo)) return "";
  if (spec.threshold.has_value()) widen(*spec.threshold);
  if (hi - lo < 1e-12) {
    hi += std::max(std::fabs(hi) * 0.1, 1.0);
    lo -= std::max(std::fabs(lo) * 0.1, 1.0);
  }
  const double pad = (hi - lo) * 0.08;
  const Scale s{spec.x_min, std::max(spec.x_max - spec.x_min, 1.0), lo - pad,
                hi + pad};

  std::string out = Open(spec.title);
  for (double v : {hi, (hi + lo) / 2, lo}) {
    absl::StrAppend(&out, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(s.Y(v)),
                    "\" x2=\"", Num(kLeft + kPlotW), "\" y2=\"", Num(s.Y(v)),
                    "\" stroke=\"#ddd\"/>\n",
                    Text(kLeft - 4, s.Y(v) + 4, "end", spec.y_text(v)));
  }
  absl::StrAppend(
      &out,
      Text(kLeft, kHeight - kBottom + 16, "start", spec.x_text(spec.x_min)),
      Text(kLeft + kPlotW, kHeight - kBottom + 16, "end",
           spec.x_text(spec.x_max)),
      Band(spec.points, s));
  if (spec.threshold.has_value()) {
    const std::string y = Num(s.Y(*spec.threshold));
    absl::StrAppend(&out, "<line class=\"threshold\" x1=\"", Num(kLeft),
                    "\" y1=\"", y, "\" x2=\"", Num(kLeft + kPlotW), "\" y2=\"",
                    y,
                    "\" stroke=\"#c62828\" stroke-width=\"2\" "
                    "stroke-dasharray=\"6 3\"/>\n");
  }
  absl::StrAppend(&out, Values(spec.points, s));
  double x = kLeft;
  absl::StrAppend(&out, Legend(&x, "#1f77b4", false, spec.line_label));
  if (spec.threshold.has_value())
    absl::StrAppend(&out, Legend(&x, "#c62828", true, spec.threshold_label));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string BarChart(const BarChartSpec& spec) {
  if (spec.groups.empty()) return "";
  double hi = 1;
  for (const BarSeries& s : spec.bars)
    for (double v : s.values) hi = std::max(hi, v);
  if (spec.line.has_value())
    for (double v : spec.line->values) hi = std::max(hi, v);
  hi = std::ceil(hi * 1.1);
  const double n = static_cast<double>(spec.groups.size());
  const double group_w = kPlotW / n;
  const double bar_w =
      std::max(0.5, group_w * 0.8 / std::max<size_t>(1, spec.bars.size()));
  auto py = [&](double y) { return kTop + kPlotH * (hi - y) / hi; };

  std::string out = Open(spec.title);
  for (double v : {hi, std::round(hi / 2)}) {
    absl::StrAppend(&out, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(py(v)),
                    "\" x2=\"", Num(kLeft + kPlotW), "\" y2=\"", Num(py(v)),
                    "\" stroke=\"#ddd\"/>\n",
                    Text(kLeft - 4, py(v) + 4, "end", absl::StrCat(v)));
  }
  absl::StrAppend(&out, Text(kLeft - 4, py(0) + 4, "end", "0"));
  for (size_t g = 0; g < spec.groups.size(); ++g) {
    const double x0 = kLeft + group_w * static_cast<double>(g) + group_w * 0.1;
    for (size_t b = 0; b < spec.bars.size(); ++b) {
      const double v =
          g < spec.bars[b].values.size() ? spec.bars[b].values[g] : 0;
      if (v <= 0) continue;
      absl::StrAppend(&out, "<rect class=\"bar\" x=\"",
                      Num(x0 + bar_w * static_cast<double>(b)), "\" y=\"",
                      Num(py(v)), "\" width=\"", Num(bar_w), "\" height=\"",
                      Num(py(0) - py(v)), "\" fill=\"", spec.bars[b].color,
                      "\"><title>", XmlEscape(spec.groups[g]), ": ",
                      absl::StrCat(v), " ", XmlEscape(spec.bars[b].label),
                      "</title></rect>\n");
    }
  }
  // First and last group labels; the table beside the chart has them all.
  absl::StrAppend(&out,
                  Text(kLeft, kHeight - kBottom + 16, "start", spec.groups[0]));
  if (spec.groups.size() > 1) {
    absl::StrAppend(&out, Text(kLeft + kPlotW, kHeight - kBottom + 16, "end",
                               spec.groups.back()));
  }
  if (spec.line.has_value()) {
    std::vector<std::string> pts;
    for (size_t g = 0; g < spec.line->values.size(); ++g) {
      pts.push_back(
          absl::StrCat(Num(kLeft + group_w * (static_cast<double>(g) + 0.5)),
                       ",", Num(py(spec.line->values[g]))));
    }
    absl::StrAppend(&out, "<polyline class=\"values\" points=\"",
                    absl::StrJoin(pts, " "), "\" fill=\"none\" stroke=\"",
                    spec.line->color, "\" stroke-width=\"2\"/>\n");
  }
  double x = kLeft;
  for (const BarSeries& s : spec.bars)
    absl::StrAppend(&out, Legend(&x, s.color, false, s.label));
  if (spec.line.has_value())
    absl::StrAppend(&out,
                    Legend(&x, spec.line->color, false, spec.line->label));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace aims::collector

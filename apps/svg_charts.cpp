#include "apps/svg_charts.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace bcqnmt {

namespace {

std::string tick_label(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Linear maps from data to pixels for one plot box, and its axes.
struct Axes {
  double left, top, width, height, x0, x1, y0, y1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }

  void draw(SvgDocument& doc, const std::string& x_label, const std::string& y_label) const {
    draw_x_axis(doc, x_label);
    for (double t : nice_ticks(y0, y1, 6)) {
      doc.line(left - 4, py(t), left, py(t), "#444");
      doc.line(left, py(t), left + width, py(t), "#eee");
      doc.text(left - 6, py(t) + 3, tick_label(t), {10, "end"});
    }
    doc.text(left - 44, top + height / 2, y_label, {12, "middle", -90});
  }
  // The frame, x ticks with grid lines, and the x label (a bar chart's y axis is categories).
  void draw_x_axis(SvgDocument& doc, const std::string& x_label) const {
    doc.rect(left, top, width, height, "none", "#444");
    for (double t : nice_ticks(x0, x1, 8)) {
      doc.line(px(t), top + height, px(t), top + height + 4, "#444");
      doc.line(px(t), top, px(t), top + height, "#eee");
      doc.text(px(t), top + height + 16, tick_label(t), {10, "middle"});
    }
    doc.text(left + width / 2, top + height + 34, x_label, {12, "middle"});
  }
};

// Viridis at five stops (matplotlib's colormap), interpolated: dark = 0, yellow = 1.
std::string viridis(double t) {
  static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  std::ostringstream s;
  s << "rgb(";
  for (int c = 0; c < 3; ++c)
    s << static_cast<int>(std::lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]))) << (c < 2 ? "," : ")");
  return s.str();
}

}  // namespace

void draw_line_chart(SvgDocument& doc, double x, double y, double w, double h, const LineChart& chart) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  const double pad = y1 > y0 ? 0.05 * (y1 - y0) : 0.5;
  const Axes axes{x + 60, y + 28, w - 74 - chart.legend_width, h - 72, x0, x1, y0 - pad, y1 + pad};
  doc.text(x + w / 2 - 70, y + 18, chart.title, {14, "middle", 0, "#222", true});
  axes.draw(doc, chart.x_label, chart.y_label);
  for (const Marker& m : chart.markers) {
    doc.line(axes.px(m.x), axes.top, axes.px(m.x), axes.top + axes.height, "#888", 1, true);
    const bool near_right = axes.px(m.x) > axes.left + 0.8 * axes.width;  // label on the roomier side
    doc.text(axes.px(m.x) + (near_right ? -4 : 4), axes.top + 12, m.label, {10, near_right ? "end" : "start", 0, "#666"});
  }
  double legend_y = axes.top + 10;
  for (const Series& s : chart.series) {
    std::vector<std::pair<double, double>> points;
    for (size_t i = 0; i < s.x.size(); ++i) points.emplace_back(axes.px(s.x[i]), axes.py(s.y[i]));
    doc.polyline(points, s.color, 1.5, s.dashed);
    for (const auto& [px, py] : points) doc.circle(px, py, 2.5, s.color);
    const double lx = axes.left + axes.width + 14;
    doc.line(lx, legend_y, lx + 22, legend_y, s.color, 2, s.dashed);
    doc.text(lx + 28, legend_y + 4, s.name, {11});
    legend_y += 18;
  }
}

SvgDocument heat_map_svg(const std::vector<std::vector<float>>& weights, const std::vector<std::string>& row_labels,
                         const std::vector<std::string>& col_labels, const std::string& title,
                         const std::string& row_axis, const std::string& col_axis) {
  const double cell = 26, left = 130, top = 130;
  const double rows = static_cast<double>(weights.size()), cols = static_cast<double>(col_labels.size());
  SvgDocument doc(left + cols * cell + 110, top + rows * cell + 30);
  doc.text(12, 22, title, {14, "start", 0, "#222", true});
  doc.text(left + cols * cell / 2, 44, col_axis, {12, "middle"});
  doc.text(20, top + rows * cell / 2, row_axis, {12, "middle", -90});
  for (size_t c = 0; c < col_labels.size(); ++c)
    doc.text(left + (c + 0.5) * cell + 4, top - 6, col_labels[c], {11, "start", -60});
  for (size_t r = 0; r < weights.size(); ++r) {
    doc.text(left - 6, top + (r + 0.5) * cell + 4, row_labels.at(r), {11, "end"});
    for (size_t c = 0; c < weights[r].size(); ++c)
      doc.rect(left + c * cell, top + r * cell, cell, cell, viridis(weights[r][c]));
  }
  // Colour bar, 0 at the bottom and 1 at the top.
  const double bx = left + cols * cell + 24, bh = std::max(60.0, rows * cell);
  for (int i = 0; i < 20; ++i) doc.rect(bx, top + bh - (i + 1) * bh / 20, 14, bh / 20 + 0.5, viridis((i + 0.5) / 20));
  doc.text(bx + 18, top + 10, "1", {10});
  doc.text(bx + 18, top + bh, "0", {10});
  return doc;
}

SvgDocument histogram_svg(const std::vector<float>& values, int bins, const std::vector<double>& levels,
                          const std::string& title, const std::string& x_label, const std::string& levels_label) {
  double lo = INFINITY, hi = -INFINITY;
  for (float v : values) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
  for (double l : levels) lo = std::min(lo, l), hi = std::max(hi, l);
  if (!(hi > lo)) lo -= 1, hi += 1;
  std::vector<int64_t> counts(bins, 0);
  for (float v : values) ++counts[std::min<int64_t>(bins - 1, static_cast<int64_t>((v - lo) / (hi - lo) * bins))];
  const double top_count = static_cast<double>(*std::max_element(counts.begin(), counts.end()));
  SvgDocument doc(820, 460);
  const Axes axes{80, 62, 680, 338, lo, hi, 0, std::max(1.0, top_count * 1.05)};
  doc.text(410, 24, title, {14, "middle", 0, "#222", true});
  axes.draw(doc, x_label, "weights per bin");
  const double bin_width = (hi - lo) / bins;
  for (int b = 0; b < bins; ++b)
    doc.rect(axes.px(lo + b * bin_width), axes.py(counts[b]), axes.px(lo + (b + 1) * bin_width) - axes.px(lo + b * bin_width),
             axes.py(0) - axes.py(counts[b]), "#7aa6d6", "#4a76a6");
  for (double l : levels) doc.line(axes.px(l), axes.top, axes.px(l), axes.top + axes.height, "#d62728", 1.5, true);
  doc.line(axes.left, 46, axes.left + 24, 46, "#d62728", 1.5, true);  // legend, above the plot
  doc.text(axes.left + 30, 50, levels_label, {11});
  return doc;
}

SvgDocument bar_chart_svg(const BarChart& chart) {
  size_t longest = 0;
  for (const std::string& c : chart.categories) longest = std::max(longest, c.size());
  double top_value = 0;
  for (const BarSeries& s : chart.series)
    for (double v : s.values)
      if (std::isfinite(v)) top_value = std::max(top_value, v);
  for (const Marker& m : chart.references) top_value = std::max(top_value, m.x);
  const double bar = 16, gap = 12, band = static_cast<double>(chart.series.size()) * bar + gap;
  const double left = 24 + 6.5 * static_cast<double>(longest);  // ~6.5 px a character at 11 px
  const double plot_height = std::max(band, band * static_cast<double>(chart.categories.size()));
  SvgDocument doc(left + 640, 64 + plot_height + 52);
  // 15% headroom past the longest bar for its printed value.
  const Axes axes{left, 64, 620, plot_height, 0, top_value > 0 ? top_value * 1.15 : 1, 0, 1};
  doc.text(12, 22, chart.title, {14, "start", 0, "#222", true});
  axes.draw_x_axis(doc, chart.x_label);
  double legend_x = axes.left;
  for (const BarSeries& s : chart.series) {  // legend, above the plot
    doc.rect(legend_x, 38, 14, 12, s.color);
    doc.text(legend_x + 20, 48, s.name, {11});
    legend_x += 34 + 6.5 * static_cast<double>(s.name.size());
  }
  for (const Marker& m : chart.references) {
    doc.line(legend_x, 44, legend_x + 24, 44, "#444", 1.5, true);
    doc.text(legend_x + 30, 48, m.label, {11});
    legend_x += 44 + 6.5 * static_cast<double>(m.label.size());
  }
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double band_top = axes.top + static_cast<double>(c) * band + gap / 2;
    doc.text(axes.left - 8, band_top + (band - gap) / 2 + 4, chart.categories[c], {11, "end"});
    for (size_t k = 0; k < chart.series.size(); ++k) {
      const BarSeries& s = chart.series[k];
      const double v = c < s.values.size() ? s.values[c] : NAN;
      if (!std::isfinite(v)) continue;
      const double y = band_top + static_cast<double>(k) * bar;
      doc.rect(axes.px(0), y + 1, axes.px(v) - axes.px(0), bar - 2, s.color);
      std::ostringstream value;
      value.precision(4);
      value << v;
      doc.text(axes.px(v) + 4, y + bar - 4, value.str(), {10});
    }
  }
  for (const Marker& m : chart.references)
    doc.line(axes.px(m.x), axes.top, axes.px(m.x), axes.top + axes.height, "#444", 1.5, true);
  return doc;
}

}  // namespace bcqnmt

#pragma once
// The pictures of `bcqnmt plot`, drawn with SvgDocument: line charts (training curves), a
// heat map (attention weights), a histogram with vertical markers (weights and their BCQ
// levels) and grouped bars (per-group quantization sensitivity).
#include <string>
#include <vector>

#include "apps/svg_document.h"

namespace bcqnmt {

struct Series {
  std::string name, color;
  std::vector<double> x, y;
  bool dashed = false;
};

struct Marker {  // a labelled vertical line at x
  double x;
  std::string label;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<Marker> markers;
  double legend_width = 126;  // px right of the plot for the series names (~6 px a character)
};

// One chart in the box (x, y, w, h) of doc, axes fitted to the data.
void draw_line_chart(SvgDocument& doc, double x, double y, double w, double h, const LineChart& chart);

// weights [rows][cols] in [0, 1] (each row a probability distribution), rows labelled down
// the left, columns along the top (rotated), darker = heavier.
SvgDocument heat_map_svg(const std::vector<std::vector<float>>& weights, const std::vector<std::string>& row_labels,
                         const std::vector<std::string>& col_labels, const std::string& title,
                         const std::string& row_axis, const std::string& col_axis);

// A histogram of values in `bins` equal bins, with a dashed vertical line at every level.
SvgDocument histogram_svg(const std::vector<float>& values, int bins, const std::vector<double>& levels,
                          const std::string& title, const std::string& x_label, const std::string& levels_label);

struct BarSeries {  // one bar in every category's band
  std::string name, color;
  std::vector<double> values;  // per category; NaN: no bar there
};

struct BarChart {
  std::string title, x_label;
  std::vector<std::string> categories;  // one band each, top to bottom
  std::vector<BarSeries> series;
  std::vector<Marker> references;       // dashed vertical lines across all bands (e.g. a baseline)
};

// Grouped horizontal bars from 0 (category names fit on the left however long they are),
// each bar's value printed at its end, legend above the plot.
SvgDocument bar_chart_svg(const BarChart& chart);

}  // namespace bcqnmt

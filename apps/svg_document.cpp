#include "apps/svg_document.h"

#include <cmath>
#include <iomanip>

#include "core/atomic_file.h"

namespace bcqnmt {

namespace {
std::string dash(bool dashed) { return dashed ? " stroke-dasharray=\"5,4\"" : ""; }
}  // namespace

SvgDocument::SvgDocument(double width, double height) : width_(width), height_(height) {
  body_ << std::fixed << std::setprecision(2);
  rect(0, 0, width, height, "white");
}

void SvgDocument::rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke) {
  body_ << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"" << h << "\" fill=\"" << fill
        << "\" stroke=\"" << stroke << "\"/>\n";
}

void SvgDocument::line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
                       bool dashed) {
  body_ << "<line x1=\"" << x1 << "\" y1=\"" << y1 << "\" x2=\"" << x2 << "\" y2=\"" << y2 << "\" stroke=\"" << stroke
        << "\" stroke-width=\"" << width << "\"" << dash(dashed) << "/>\n";
}

void SvgDocument::polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                           double width, bool dashed) {
  body_ << "<polyline fill=\"none\" stroke=\"" << stroke << "\" stroke-width=\"" << width << "\"" << dash(dashed)
        << " points=\"";
  for (const auto& [x, y] : points) body_ << x << "," << y << " ";
  body_ << "\"/>\n";
}

void SvgDocument::circle(double cx, double cy, double r, const std::string& fill) {
  body_ << "<circle cx=\"" << cx << "\" cy=\"" << cy << "\" r=\"" << r << "\" fill=\"" << fill << "\"/>\n";
}

void SvgDocument::text(double x, double y, std::string_view s, const TextStyle& st) {
  body_ << "<text x=\"" << x << "\" y=\"" << y << "\" font-family=\"sans-serif\" font-size=\"" << st.size
        << "\" text-anchor=\"" << st.anchor << "\" fill=\"" << st.fill << "\"";
  if (st.bold) body_ << " font-weight=\"bold\"";
  if (st.rotate != 0) body_ << " transform=\"rotate(" << st.rotate << " " << x << " " << y << ")\"";
  body_ << ">" << xml_escape(s) << "</text>\n";
}

std::string SvgDocument::str() const {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width_
      << "\" height=\"" << height_ << "\" viewBox=\"0 0 " << width_ << " " << height_ << "\">\n"
      << body_.str() << "</svg>\n";
  return out.str();
}

void SvgDocument::save(const std::filesystem::path& path) const { write_file_atomically(path, str()); }

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step)
    ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  return ticks;
}

}  // namespace bcqnmt

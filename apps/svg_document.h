#pragma once
// A minimal SVG writer for `bcqnmt plot`: shapes and text in pixel units, text escaped for
// XML, no dependency. SVG is plain XML, so a picture is a string we can test and diff.
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bcqnmt {

struct TextStyle {
  double size = 12;
  std::string anchor = "start";  // SVG text-anchor: start | middle | end
  double rotate = 0;             // degrees, about the text's anchor point
  std::string fill = "#222";
  bool bold = false;
};

class SvgDocument {
 public:
  SvgDocument(double width, double height);
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke = "none");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            bool dashed = false);
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, double width = 1.5,
                bool dashed = false);
  void circle(double cx, double cy, double r, const std::string& fill);
  void text(double x, double y, std::string_view s, const TextStyle& style = {});
  std::string str() const;                             // the complete document
  void save(const std::filesystem::path& path) const;  // written atomically

 private:
  double width_, height_;
  std::ostringstream body_;
};

std::string xml_escape(std::string_view s);
// About `target` round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace bcqnmt

#include "nn/json_file.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace bcqnmt {

std::string json_error_text(const std::exception& error) {
  std::string text = error.what();
  if (dynamic_cast<const nlohmann::json::exception*>(&error) == nullptr) return text;
  if (text.starts_with("[json.exception.")) text.erase(0, text.find("] ") + 2);
  return text;
}

namespace {

// The deepest nesting of brackets outside strings, counted until it passes `limit`; brackets
// that do not match are left for the parser to report.
int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

std::string parse_json_text(std::string_view text, const std::string& source, nlohmann::json& out) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    return source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  try {
    out = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return source + ": malformed JSON (" + json_error_text(e) + ")";
  } catch (const nlohmann::json::exception& e) {  // out_of_range.406: "number overflow parsing '1e400'"
    return source + ": a value out of range (" + json_error_text(e) + ")";
  }
  return "";
}

std::string parse_json_file(const std::filesystem::path& path, nlohmann::json& out) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return path.string() + ": no such file";
  if (!std::filesystem::is_regular_file(status)) return path.string() + ": not a regular file";
  const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (!ec && bytes > kMaxJsonFileBytes)
    return path.string() + ": " + std::to_string(bytes) + " bytes, more than the " +
           std::to_string(kMaxJsonFileBytes) + " a JSON file of bcqnmt may hold";
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return path.string() + ": cannot read it";
  return parse_json_text(text, path.string(), out);
}

}  // namespace bcqnmt

#include "nn/json_file.h"

#include <fstream>
#include <iterator>

namespace bcqnmt {

std::string json_error_text(const std::exception& error) {
  std::string text = error.what();
  if (dynamic_cast<const nlohmann::json::exception*>(&error) == nullptr) return text;
  if (text.starts_with("[json.exception.")) text.erase(0, text.find("] ") + 2);
  return text;
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
  try {
    out = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return path.string() + ": malformed JSON (" + json_error_text(e) + ")";
  }
  return "";
}

}  // namespace bcqnmt

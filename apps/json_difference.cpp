#include "apps/json_difference.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace bcqnmt {

std::string describe_json_differences(const nlohmann::json& before, const nlohmann::json& after) {
  std::string differences;
  for (const auto& change : nlohmann::json::diff(before, after)) {
    const std::string path = change.value("path", "");
    std::string key = path.substr(path.empty() ? 0 : 1);
    std::replace(key.begin(), key.end(), '/', '.');
    const nlohmann::json::json_pointer at(path);
    auto value = [&](const nlohmann::json& j) { return j.contains(at) ? j.at(at).dump() : std::string("(absent)"); };
    differences += (differences.empty() ? "" : ", ") + key + " " + value(before) + " vs " + value(after);
  }
  return differences;
}

}  // namespace bcqnmt

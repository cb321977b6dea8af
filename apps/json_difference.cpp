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
    const nlohmann::json old = before.contains(at) ? before.at(at) : nlohmann::json();
    const nlohmann::json now = after.contains(at) ? after.at(at) : nlohmann::json();
    differences += (differences.empty() ? "" : ", ") + key + " " + old.dump() + " vs " + now.dump();
  }
  return differences;
}

}  // namespace bcqnmt

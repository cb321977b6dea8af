#pragma once
// Strict reading of a flat JSON config section against its defaults: an unknown key or a
// value of the wrong type is an error naming the section and key, never silently ignored.
#include <nlohmann/json.hpp>
#include <string>

#include "apps/app_error.h"

namespace bcqnmt {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, const nlohmann::json& defaults, std::string section)
      : j_(j), section_(std::move(section)) {
    if (!j.is_object()) throw AppError(section_ + ": expected a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (!defaults.contains(key)) throw AppError(section_ + ": unknown key \"" + key + "\"");
      const auto& expected = defaults.at(key);
      const bool ok = expected.is_number_integer() ? value.is_number_integer()
                      : expected.is_number()       ? value.is_number()
                                                   : value.type() == expected.type();
      if (!ok) throw AppError(section_ + ": \"" + key + "\" has the wrong type (expected like " + expected.dump() + ")");
    }
  }
  template <class T>
  void get(const char* key, T& out) const {
    if (j_.contains(key)) j_.at(key).get_to(out);
  }

 private:
  const nlohmann::json& j_;
  std::string section_;
};

}  // namespace bcqnmt

#pragma once
// Strict reading of a flat JSON config section against its defaults: an unknown key or a
// value of the wrong type is an error naming the section and key, never silently ignored.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

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
  // An integer that does not fit T is an error, not a silent wrap (4294967297 -> 1).
  template <class T>
  void get(const char* key, T& out) const {
    if (!j_.contains(key)) return;
    const nlohmann::json& value = j_.at(key);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      const bool fits = value.is_number_unsigned()
                            ? value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                            : value.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                  (std::is_unsigned_v<T> ||
                                   value.get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max()));
      if (!fits)
        throw AppError(section_ + ": \"" + key + "\" = " + value.dump() + " is out of range (" +
                       std::to_string(std::numeric_limits<T>::min()) + ".." +
                       std::to_string(std::numeric_limits<T>::max()) + ")");
    }
    value.get_to(out);
  }

 private:
  const nlohmann::json& j_;
  std::string section_;
};

}  // namespace bcqnmt

#pragma once
// Strict reading of a flat JSON config section against its defaults: an unknown key or a
// value of the wrong type is an error naming the section and key, never silently ignored.
// nn/ holds it because nn is the lowest layer with a config (and with nlohmann::json).
// The one config reader of every layer (nn's ModelConfig, apps' training and quantization
// sections); each throws its own module's error type (Error: constructible from a string).
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "core/name_table.h"
#include "core/quoted_text.h"

namespace bcqnmt {

template <class Error>
class JsonFields {
 public:
  // `defaults` is the section as written with default values (to_json() of a default
  // config): its keys are the known ones and its values give each key's type.
  JsonFields(const nlohmann::json& j, const nlohmann::json& defaults, std::string section)
      : j_(j), section_(std::move(section)) {
    if (!j.is_object()) throw Error(section_ + ": expected a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (!defaults.contains(key)) throw Error(section_ + ": unknown key \"" + quoted_text(key) + "\"");
      const auto& expected = defaults.at(key);
      const bool ok = expected.is_number_integer() ? value.is_number_integer()
                      : expected.is_number()       ? value.is_number()
                                                   : value.type() == expected.type();
      if (!ok) throw Error(section_ + ": \"" + key + "\" has the wrong type (expected like " + expected.dump() + ")");
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
        throw Error(section_ + ": \"" + key + "\" = " + value.dump() + " is out of range (" +
                    std::to_string(std::numeric_limits<T>::min()) + ".." +
                    std::to_string(std::numeric_limits<T>::max()) + ")");
    }
    value.get_to(out);
  }
  // The same, and at least `min_value`; an integer out of range names min_value..T's maximum,
  // the key's own range (epochs 4294967297: 1..2147483647, not int's).
  template <class T>
  void get(const char* key, T& out, T min_value) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      get(key, out, min_value, std::numeric_limits<T>::max());
    } else {
      get(key, out);
      if (out < min_value) throw Error(section_ + ": \"" + key + "\" must be >= " + std::to_string(min_value));
    }
  }
  // The same, within [min_value, max_value]: a sane upper bound is checked before anything
  // of that size is allocated.
  template <class T>
  void get(const char* key, T& out, T min_value, T max_value) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // Compared as 64-bit integers first, so 4294967298 names this key's range, not int's.
      if (j_.contains(key) && j_.at(key).is_number_integer()) {
        const nlohmann::json& value = j_.at(key);
        const bool fits = value.is_number_unsigned()
                              ? value.get<uint64_t>() <= static_cast<uint64_t>(max_value) &&
                                    static_cast<int64_t>(value.get<uint64_t>()) >= static_cast<int64_t>(min_value)
                              : value.get<int64_t>() >= static_cast<int64_t>(min_value) &&
                                    value.get<int64_t>() <= static_cast<int64_t>(max_value);
        if (!fits)
          throw Error(section_ + ": \"" + key + "\" = " + value.dump() + " is out of range (" +
                      std::to_string(min_value) + ".." + std::to_string(max_value) + ")");
      }
    }
    get(key, out);
    if (out < min_value) throw Error(section_ + ": \"" + key + "\" must be >= " + std::to_string(min_value));
    if (out > max_value) throw Error(section_ + ": \"" + key + "\" must be <= " + std::to_string(max_value));
  }
  // An enum, by its name in `names` (core/name_table.h).
  template <class E>
  void get(const char* key, E& out, const NameTable<E>& names) const {
    if (j_.contains(key)) out = names.template parse<Error>(j_.at(key).get<std::string>(), section_ + ": ");
  }

 private:
  const nlohmann::json& j_;
  std::string section_;
};

}  // namespace bcqnmt

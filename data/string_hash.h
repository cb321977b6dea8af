#pragma once
// Hash for unordered containers keyed by std::string that are looked up with
// std::string_view (C++20 heterogeneous lookup): no temporary string per lookup.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bcqnmt {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace bcqnmt

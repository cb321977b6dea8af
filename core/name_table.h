#pragma once
// One name table per enum: the names a value has in config files, on the command line and
// in messages, written once. The same table parses (config readers, core/json_fields.h),
// prints, validates command-line flags (CLI::IsMember(table.names())) and lists the choices
// in help texts and errors, so a new value is one line in its table.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/quoted_text.h"

namespace bcqnmt {

template <class E>
class NameTable {
 public:
  // `what` names the setting in errors ("\"norm\"", "matmul precision").
  NameTable(std::string what, std::vector<std::pair<E, std::string>> entries)
      : what_(std::move(what)), entries_(std::move(entries)) {}

  const std::string& name(E value) const {
    for (const auto& [v, n] : entries_)
      if (v == value) return n;
    throw std::logic_error(what_ + ": a value without a name");
  }
  std::optional<E> find(const std::string& name) const {
    for (const auto& [v, n] : entries_)
      if (n == name) return v;
    return std::nullopt;
  }
  // The value named `name`, or Error(`<what> must be "a", "b" or "c", not "x"`).
  template <class Error = std::invalid_argument>
  E parse(const std::string& name, const std::string& context = "") const {
    if (const std::optional<E> v = find(name)) return *v;
    throw Error(context + what_ + " must be " + choices() + ", not \"" + quoted_text(name) + "\"");
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.second);
    return out;
  }
  // "\"a\", \"b\" or \"c\"", for help texts and errors.
  std::string choices() const {
    std::string out;
    for (size_t i = 0; i < entries_.size(); ++i)
      out += (i == 0 ? "" : i + 1 == entries_.size() ? " or " : ", ") + ("\"" + entries_[i].second + "\"");
    return out;
  }

 private:
  std::string what_;
  std::vector<std::pair<E, std::string>> entries_;
};

// name -> value for every entry, as CLI11's CheckedTransformer takes it (a flag parsed
// straight into the enum).
template <class E>
std::map<std::string, E> name_map(const NameTable<E>& table) {
  std::map<std::string, E> out;
  for (const std::string& name : table.names()) out.emplace(name, *table.find(name));
  return out;
}

}  // namespace bcqnmt

#include "nn/module.h"

#include <algorithm>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "nn/error.h"

namespace bcqnmt {

Variable Module::register_parameter(const std::string& name, Tensor init) {
  parameters_.emplace_back(name, Variable(std::move(init), true));
  return parameters_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<NamedParameter>& out) const {
  for (const auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + "/", out);
}

namespace {
std::string child_path(const std::string& path, const std::string& name) { return path.empty() ? name : path + "/" + name; }
}  // namespace

std::vector<std::string> path_components(const std::string& path) {
  std::vector<std::string> parts;
  for (size_t begin = 0; begin <= path.size();) {
    const size_t end = std::min(path.find('/', begin), path.size());
    parts.push_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

void Module::visit(const std::string& path, const std::function<void(const std::string&, Module&)>& fn) {
  fn(path, *this);
  for (auto& [name, child] : children_) child->visit(child_path(path, name), fn);
}

void Module::visit(const std::string& path, const std::function<void(const std::string&, const Module&)>& fn) const {
  fn(path, *this);
  for (const auto& [name, child] : children_) static_cast<const Module*>(child)->visit(child_path(path, name), fn);
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> out;
  collect("", out);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void save_parameters(const Module& module, std::ostream& out) {
  cereal::PortableBinaryOutputArchive archive(out);
  auto params = module.named_parameters();
  archive(static_cast<uint64_t>(params.size()));
  for (const auto& [name, p] : params) archive(name, p.value().shape(), p.value().to_vector());
}

void load_parameters(Module& module, std::istream& in) {
  cereal::PortableBinaryInputArchive archive(in);
  auto params = module.named_parameters();
  uint64_t count = 0;
  archive(count);
  if (count != params.size())
    throw NnError("parameter file holds " + std::to_string(count) + " tensors, the model has " +
                  std::to_string(params.size()));
  for (auto& [name, p] : params) {
    std::string stored_name;
    Shape shape;
    std::vector<float> values;
    archive(stored_name, shape, values);
    if (stored_name != name || shape != p.value().shape())
      throw NnError("parameter mismatch: file has " + stored_name + " " + shape_str(shape) + ", model expects " + name +
                    " " + shape_str(p.value().shape()));
    p.value().copy_from(Tensor::from(shape, values));
  }
}

}  // namespace bcqnmt

#include "nn/module.h"

#include <algorithm>
#include <cmath>

#include "nn/error.h"

namespace bcqnmt {

Variable Module::register_parameter(const std::string& name, Tensor init) {
  parameters_.emplace_back(name, Variable(std::move(init), true));
  return parameters_.back().second;
}

void Module::pack_parameter(const std::string& name) {
  const auto it = std::find_if(parameters_.begin(), parameters_.end(), [&](const NamedParameter& p) { return p.first == name; });
  if (it == parameters_.end()) throw NnError("pack_parameter: no parameter '" + name + "' to pack");
  packed_.emplace_back(name, it->second.value().shape());
  parameters_.erase(it);
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

std::vector<std::pair<std::string, Shape>> Module::named_packed_weights() const {
  std::vector<std::pair<std::string, Shape>> out;
  visit("", [&](const std::string& path, const Module& m) {
    for (const auto& [name, shape] : m.packed_) out.emplace_back(path.empty() ? name : path + "/" + name, shape);
  });
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  for (const auto& [name, shape] : named_packed_weights()) n += shape_numel(shape);
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void load_parameters(Module& module, const std::vector<NamedTensor>& values) {
  auto params = module.named_parameters();
  if (params.size() != values.size())
    throw NnError("holds " + std::to_string(values.size()) + " tensors, the model has " + std::to_string(params.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, p] = params[i];
    const NamedTensor& v = values[i];
    if (v.name != name || v.value.shape() != p.value().shape())
      throw NnError("parameter " + v.name + " " + shape_str(v.value.shape()) + " does not fit the model's " + name + " " +
                    shape_str(p.value().shape()));
    const float* x = v.value.data();
    const int64_t bad = std::find_if(x, x + v.value.numel(), [](float f) { return !std::isfinite(f); }) - x;
    if (bad < v.value.numel())
      throw NnError("parameter " + name + " holds a non-finite value (" +
                    (std::isnan(x[bad]) ? "NaN" : x[bad] > 0 ? "+Inf" : "-Inf") + " at element " + std::to_string(bad) +
                    "): the training that wrote it diverged");
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].second.value().copy_from(values[i].value);
}

}  // namespace bcqnmt

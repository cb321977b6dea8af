#pragma once
// Module: the base of every layer. A module owns named parameters and child modules, and
// names them hierarchically ("encoder/layer_0/self_attention/mha/query/kernel") so that
// checkpoints, quantizers and the info command can address any weight by name.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/variable.h"

namespace bcqnmt {

using NamedParameter = std::pair<std::string, Variable>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Children register pointers to themselves: a module never moves once built.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter below this module, depth first, in registration order: the trainable
  // weights (a packed weight is not one, see below).
  std::vector<NamedParameter> named_parameters() const;
  std::vector<Variable> parameters() const;
  // Every weight below this module packed into an inference-only form (nn/layer_weight.h),
  // with the shape it had as a parameter, depth first: still a weight of the model, no
  // longer a parameter (no values nn/ can read, no gradient).
  std::vector<std::pair<std::string, Shape>> named_packed_weights() const;
  // The model's size in weights, whatever form they are in: parameters + packed weights.
  int64_t num_parameters() const;

  // Every module of type M in this subtree (this one included), with its path
  // ("encoder/layer_0/ffn/dense_0"; "" for this module itself), depth first in registration
  // order: PyTorch's named_modules() filtered by type. The parameters of the module at
  // `path` are named path + "/" + their own names ("encoder/layer_0/ffn/dense_0/kernel").
  // fn(const std::string& path, M& module).
  template <class M, class Fn>
  void for_each(Fn&& fn) {
    visit("", [&](const std::string& path, Module& m) {
      if (auto* typed = dynamic_cast<M*>(&m)) fn(path, *typed);
    });
  }
  template <class M, class Fn>
  void for_each(Fn&& fn) const {
    visit("", [&](const std::string& path, const Module& m) {
      if (auto* typed = dynamic_cast<const M*>(&m)) fn(path, *typed);
    });
  }

  // Dropout and other train-only behaviour; applies to the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  Variable register_parameter(const std::string& name, Tensor init);
  // Turns this module's parameter `name` into a packed weight: it leaves named_parameters()
  // and its shape is kept for named_packed_weights(). For a layer whose inference kernel
  // replaces its dense weight; there is no way back. NnError if there is no such parameter.
  void pack_parameter(const std::string& name);
  template <class M>
  M& register_module(const std::string& name, M& child) {
    children_.emplace_back(name, &child);
    return child;
  }

 private:
  void collect(const std::string& prefix, std::vector<NamedParameter>& out) const;
  void visit(const std::string& path, const std::function<void(const std::string&, Module&)>& fn);
  void visit(const std::string& path, const std::function<void(const std::string&, const Module&)>& fn) const;
  std::vector<NamedParameter> parameters_;
  std::vector<std::pair<std::string, Shape>> packed_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// "encoder/layer_0/ffn" -> {"encoder", "layer_0", "ffn"}: the components of a module or
// parameter path.
std::vector<std::string> path_components(const std::string& path);

// Copies `values` (one per parameter, in named_parameters() order, as checkpoints store
// them) into the module's parameters: the one way weights get into a model. Throws NnError
// naming the first parameter whose name or shape differs, or that holds a NaN or Inf (the
// weights of a diverged training, which no command can use; quantizing them would turn
// whole rows of BCQ scales into NaN).
void load_parameters(Module& module, const std::vector<NamedTensor>& values);

}  // namespace bcqnmt

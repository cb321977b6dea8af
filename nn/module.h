#pragma once
// Module: the base of every layer. A module owns named parameters and child modules, and
// names them hierarchically ("encoder/layer_0/self_attention/mha/query/kernel") so that
// checkpoints, quantizers and the info command can address any weight by name.
#include <iosfwd>
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

  // Every parameter below this module, depth first, in registration order.
  std::vector<NamedParameter> named_parameters() const;
  std::vector<Variable> parameters() const;
  int64_t num_parameters() const;

  // Dropout and other train-only behaviour; applies to the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  Variable register_parameter(const std::string& name, Tensor init);
  template <class M>
  M& register_module(const std::string& name, M& child) {
    children_.emplace_back(name, &child);
    return child;
  }

 private:
  void collect(const std::string& prefix, std::vector<NamedParameter>& out) const;
  std::vector<NamedParameter> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// Named parameters to and from a cereal portable binary stream. Loading checks that every
// name and shape matches and throws NnError naming the first mismatch.
void save_parameters(const Module& module, std::ostream& out);
void load_parameters(Module& module, std::istream& in);

}  // namespace bcqnmt

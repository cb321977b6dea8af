#pragma once
// Reverse-mode automatic differentiation, micrograd-style, for tensors.
//
// Every op returns a Variable whose Node records its inputs and a backward function.
// backward() sorts the graph topologically (iteratively, no recursion: graphs are deep)
// and calls each node's backward function in reverse order. A backward function reads its
// node's gradient and *adds* into its inputs' gradients, so a value used twice receives
// both contributions. After the walk the graph is freed: intermediate nodes drop their
// inputs and closures, leaving only leaf gradients.
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace bcqnmt {

struct Node;
using BackwardFn = std::function<void(Node& self)>;

struct Node {
  Tensor value;
  Tensor grad;  // undefined until the first contribution (see the rules at make_result)
  bool requires_grad = false;
  std::vector<std::shared_ptr<Node>> inputs;
  BackwardFn backward;

  // The gradient buffer of this node, zero-initialised on first use.
  Tensor& grad_buffer();
  // Adds g (same numel) into the gradient. The first contribution is adopted, not copied:
  // pass a tensor that nothing else will write to.
  void accumulate_grad(const Tensor& g);
  // For kernels that can either overwrite or add (GEMM's beta): the gradient buffer,
  // left uninitialised when it is new, with beta = 0 then and 1 otherwise.
  Tensor& grad_output(float& beta);
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor value, bool requires_grad = false);

  // Builds an op's result. The inputs and backward function are recorded only when
  // gradients are enabled and some input requires them.
  //
  // The backward function's gradient-ownership rules (core/README.md, "Gradients"):
  //  1. It reads self.grad and *adds* into its inputs' gradients, never overwrites them: an
  //     input used twice (q = k = v in self-attention) must receive both contributions.
  //  2. It writes only the inputs with requires_grad, through one of Node's three entry
  //     points: accumulate_grad(g) adopts g as the gradient when there is none yet (no
  //     zero-fill, no copy: g must be a tensor nothing else writes) and adds it otherwise;
  //     grad_output(beta) hands a kernel that can overwrite or add (GEMM's beta) the buffer,
  //     uninitialised with beta = 0 when it is new; grad_buffer() is the zero-initialised
  //     buffer for scatter-adds.
  //  3. What it captures (input values, saved activations) is shared, not copied, and must
  //     not be modified after the op returns; the graph frees the closure after its call.
  static Variable make_result(Tensor value, const std::vector<Variable>& inputs, BackwardFn backward);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const { return node_->value; }
  Tensor& value() { return node_->value; }
  const Shape& shape() const { return node_->value.shape(); }
  int dim() const { return node_->value.dim(); }
  int64_t size(int d) const { return node_->value.size(d); }
  int64_t numel() const { return node_->value.numel(); }
  bool requires_grad() const { return node_->requires_grad; }
  void set_requires_grad(bool r) { node_->requires_grad = r; }
  const Tensor& grad() const { return node_->grad; }
  Tensor& grad() { return node_->grad; }
  void zero_grad();
  const std::shared_ptr<Node>& node() const { return node_; }

  // Back-propagates from this scalar (seed 1), or from any shape with an explicit seed.
  void backward();
  void backward(const Tensor& seed);

 private:
  std::shared_ptr<Node> node_;
};

// Gradient recording is on by default; NoGradGuard turns it off in its scope (inference,
// evaluation, optimizer updates). Thread-local, like the rest of the graph state.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace bcqnmt

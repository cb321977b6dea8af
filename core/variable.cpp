#include "core/variable.h"

#include <unordered_set>

#include "core/error.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tensor& Node::grad_buffer() {
  if (!grad.defined()) grad = Tensor::zeros(value.shape());
  return grad;
}

Tensor& Node::grad_output(float& beta) {
  beta = grad.defined() ? 1.0f : 0.0f;
  if (!grad.defined()) grad = Tensor(value.shape());
  return grad;
}

void Node::accumulate_grad(const Tensor& g) {
  BCQNMT_CHECK(g.numel() == value.numel(), "gradient of shape " + shape_str(g.shape()) +
                                               " for a value of shape " + shape_str(value.shape()));
  if (!grad.defined()) {
    grad = g.reshape(value.shape());
    return;
  }
  Tensor& buf = grad;
  float* dst = buf.data();
  const float* src = g.data();
  parallel_for(buf.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] += src[i];
  });
}

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

Variable Variable::make_result(Tensor value, const std::vector<Variable>& inputs, BackwardFn backward) {
  Variable out(std::move(value));
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const auto& in : inputs) any = any || in.requires_grad();
  if (!any) return out;
  out.node_->requires_grad = true;
  out.node_->inputs.reserve(inputs.size());
  for (const auto& in : inputs) out.node_->inputs.push_back(in.node_);
  out.node_->backward = std::move(backward);
  return out;
}

void Variable::zero_grad() { node_->grad = Tensor(); }

void Variable::backward() {
  BCQNMT_CHECK(numel() == 1, "backward() without a seed needs a scalar, got shape " + shape_str(shape()));
  backward(Tensor::full(shape(), 1.0f));
}

void Variable::backward(const Tensor& seed) {
  BCQNMT_CHECK(requires_grad(), "backward() on a value that does not require gradients");
  // Iterative post-order DFS: order[] ends up with every input before its users.
  // order[] owns its nodes: freeing a consumer's inputs must not destroy them mid-walk.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  visited.insert(node_.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const std::shared_ptr<Node>& child = node->inputs[next++];
      if (child->requires_grad && visited.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  node_->accumulate_grad(seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    // Taking the node out of order[] lets it (and its value) be freed as soon as nothing
    // outside the graph holds it.
    const std::shared_ptr<Node> held = std::move(*it);
    Node* node = held.get();
    if (node->backward && node->grad.defined()) node->backward(*node);
    // Free the graph as we go: an intermediate's gradient and closure are no longer needed.
    if (!node->inputs.empty()) {
      node->inputs.clear();
      node->backward = nullptr;
      node->grad = Tensor();
    }
  }
}

}  // namespace bcqnmt

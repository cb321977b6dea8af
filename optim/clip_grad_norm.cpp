#include "optim/clip_grad_norm.h"

#include <cmath>

#include "core/parallel.h"

namespace bcqnmt {

double gradient_norm(const std::vector<Variable>& parameters) {
  double squares = 0.0;
  for (const Variable& p : parameters)
    if (p.grad().defined())
      squares += deterministic_sum(p.grad().data(), p.grad().numel(), [](float v) { return static_cast<double>(v) * v; });
  return std::sqrt(squares);
}

void clip_grad_norm(const std::vector<Variable>& parameters, double norm, double max_norm) {
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (const Variable& p : parameters) {
      if (!p.grad().defined()) continue;
      Tensor g = p.grad();
      float* x = g.data();
      parallel_for(g.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] *= scale;
      });
    }
  }
}

}  // namespace bcqnmt

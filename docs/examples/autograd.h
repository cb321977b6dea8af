// docs/autograd.md: one forward pass recorded, one backward walk, gradients checked by hand.
#pragma once
#include <ostream>

#include "core/ops.h"

namespace bcqnmt::examples {

inline void run_example_autograd(std::ostream& out) {
  // Leaves: requires_grad = true makes the ops below record themselves.
  Variable x(Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6}), true);  // [2, 3]
  Variable w(Tensor::from({3, 1}, {0.5f, -1, 2}), true);       // [3, 1]
  Variable b(Tensor::from({1}, {0.25f}), true);                // [1]

  Variable y = add(matmul(x, w), b);  // [2, 1]: node y -> inputs {matmul node, b}
  Variable z = mul(y, y);             // [2, 1]: y is used twice
  Variable loss = sum(z);             // []: sum_i (x_i . w + b)^2

  out << "y = " << y.value().data()[0] << ", " << y.value().data()[1] << "\n";
  out << "loss = " << loss.value().item() << "\n";
  out << "nodes recorded under loss: " << loss.node()->inputs.size() << " input (z), z has "
      << z.node()->inputs.size() << " inputs (y twice)\n";

  loss.backward();  // topological order, then each node's backward in reverse

  // By hand: dloss/dy_i = 2 y_i, dloss/db = sum_i 2 y_i, dloss/dw = x^T (2 y).
  const float* yv = y.value().data();
  out << "dloss/db = " << b.grad().item() << " (by hand " << 2 * yv[0] + 2 * yv[1] << ")\n";
  out << "dloss/dw = [";
  for (int k = 0; k < 3; ++k)
    out << (k ? ", " : "") << w.grad().data()[k] << " (by hand "
        << 2 * yv[0] * x.value().data()[k] + 2 * yv[1] * x.value().data()[3 + k] << ")";
  out << "]\n";
  out << "after backward the graph is freed: z has " << z.node()->inputs.size() << " inputs\n";

  // Inference: NoGradGuard records nothing, so there is nothing to free.
  NoGradGuard no_grad;
  Variable y2 = add(matmul(x, w), b);
  out << "under NoGradGuard: requires_grad = " << y2.requires_grad() << "\n";
}

}  // namespace bcqnmt::examples

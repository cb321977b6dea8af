#include "optim/clip_grad_norm.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace bcqnmt {

namespace {

constexpr int64_t kBlock = 4096;

double sum_of_squares(const Tensor& t) {
  const int64_t n = t.numel();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  const float* x = t.data();
  parallel_for(blocks, 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      for (int64_t i = k * kBlock; i < std::min(n, (k + 1) * kBlock); ++i)
        partial[static_cast<size_t>(k)] += static_cast<double>(x[i]) * x[i];
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace

double clip_grad_norm(const std::vector<Variable>& parameters, double max_norm) {
  double squares = 0.0;
  for (const Variable& p : parameters)
    if (p.grad().defined()) squares += sum_of_squares(p.grad());
  const double norm = std::sqrt(squares);
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
  return norm;
}

}  // namespace bcqnmt

#pragma once
// Finite-difference gradient check shared by the test programs.
//
// For an op f and random projection weights R, the scalar L = sum(f(inputs) * R) has
// dL/dx = J^T R, which backward() computes. Central differences
// (L(x + h) - L(x - h)) / 2h estimate the same number for each input element. In float32
// h ~ 1e-2 balances truncation against rounding error.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"

namespace bcqnmt::testing {

inline Tensor random_tensor(const Shape& shape, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

struct GradCheckOptions {
  float step = 1e-2f;
  float rtol = 2e-2f;
  float atol = 2e-3f;
  int64_t max_elements = 64;  // per input; spread evenly over the tensor
};

// Checks d/d(inputs) of sum(f(inputs) * R). Inputs are modified in place and restored.
inline void check_gradients(const std::string& name, const std::function<Variable(std::vector<Variable>&)>& f,
                            std::vector<Variable> inputs, const GradCheckOptions& opt = {}) {
  Rng rng(1234);
  Tensor projection;
  auto loss_of = [&](std::vector<Variable>& xs) {
    Variable out = f(xs);
    if (!projection.defined()) projection = random_tensor(out.shape(), rng);
    return sum(mul(out, Variable(projection)));
  };
  for (auto& x : inputs) x.zero_grad();
  Variable loss = loss_of(inputs);
  loss.backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Variable& x = inputs[k];
    if (!x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), name << ": input " << k << " got no gradient");
    const int64_t n = x.numel();
    const int64_t stride = std::max<int64_t>(1, n / opt.max_elements);
    for (int64_t i = 0; i < n; i += stride) {
      float* p = x.value().data() + i;
      const float saved = *p;
      double plus, minus;
      {
        NoGradGuard no_grad;
        *p = saved + opt.step;
        plus = loss_of(inputs).value().item();
        *p = saved - opt.step;
        minus = loss_of(inputs).value().item();
      }
      *p = saved;
      const double numeric = (plus - minus) / (2.0 * opt.step);
      const double analytic = x.grad().data()[i];
      const double tol = opt.atol + opt.rtol * std::max(std::abs(numeric), std::abs(analytic));
      CHECK_MESSAGE(std::abs(numeric - analytic) <= tol, name << ": input " << k << " element " << i
                                                               << " analytic " << analytic << " numeric " << numeric);
    }
  }
}

}  // namespace bcqnmt::testing

// Element-wise ops with broadcasting over leading dimensions, and their gradients.
#include <cmath>

#include "core/column_sums.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.begin(), small.end(), big.end() - small.size());
}

// Sums a full-size gradient over the leading repeats of a broadcast operand.
Tensor reduce_to(const Tensor& g, const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  add_column_sums(g.data(), g.numel() / std::max<int64_t>(out.numel(), 1), out.numel(), out.data());
  return out;
}

// Visits every output index i with the indices of a and b it reads (one of them repeats
// with period `na` or `nb`), row by row: no integer division per element.
template <class F>
void for_each_pair(int64_t n, int64_t na, int64_t nb, F&& f) {
  if (na == nb) {
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) f(i, i, i);
    });
    return;
  }
  const int64_t period = std::min(na, nb);  // the broadcast operand's size
  if (period == 0) return;
  const bool a_small = na < nb;
  parallel_for(n / period, std::max<int64_t>(1, kElementwiseGrain / period), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r)
      for (int64_t j = 0; j < period; ++j) {
        const int64_t i = r * period + j;
        f(i, a_small ? j : i, a_small ? i : j);
      }
  });
}

// out[i] = f(a[i % na], b[i % nb]); da/db give the local derivatives for backward.
template <class F, class DA, class DB>
Variable binary(const char* name, const Variable& a, const Variable& b, F f, DA da, DB db) {
  const Tensor& av = a.value();
  const Tensor& bv = b.value();
  const bool a_big = is_suffix(bv.shape(), av.shape());
  BCQNMT_CHECK(a_big || is_suffix(av.shape(), bv.shape()),
               std::string(name) + ": shapes " + shape_str(av.shape()) + " and " + shape_str(bv.shape()) +
                   " do not broadcast (one must be a suffix of the other)");
  Tensor out(a_big ? av.shape() : bv.shape());
  const int64_t n = out.numel(), na = av.numel(), nb = bv.numel();
  const float* pa = av.data();
  const float* pb = bv.data();
  float* po = out.data();
  for_each_pair(n, na, nb, [&](int64_t i, int64_t ia, int64_t ib) { po[i] = f(pa[ia], pb[ib]); });
  return Variable::make_result(out, {a, b}, [av, bv, da, db, n, na, nb](Node& self) {
    const float* g = self.grad.data();
    const float* pa = av.data();
    const float* pb = bv.data();
    auto grad_for = [&](auto&& d, const Tensor& operand) {
      Tensor full(self.grad.shape());
      float* pf = full.data();
      for_each_pair(n, na, nb, [&](int64_t i, int64_t ia, int64_t ib) { pf[i] = g[i] * d(pa[ia], pb[ib]); });
      return operand.numel() == n ? full : reduce_to(full, operand.shape());
    };
    if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate_grad(grad_for(da, av));
    if (self.inputs[1]->requires_grad) self.inputs[1]->accumulate_grad(grad_for(db, bv));
  });
}

// y = f(x) element-wise; dfdx(x, y) is the local derivative.
template <class F, class D>
Variable unary(const Variable& x, F f, D dfdx) {
  const Tensor& xv = x.value();
  Tensor out(xv.shape());
  const int64_t n = out.numel();
  const float* px = xv.data();
  float* po = out.data();
  parallel_for(n, kElementwiseGrain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) po[i] = f(px[i]);
  });
  return Variable::make_result(out, {x}, [xv, out, dfdx, n](Node& self) {
    Tensor gx(xv.shape());
    const float* g = self.grad.data();
    const float* px = xv.data();
    const float* py = out.data();
    float* pg = gx.data();
    parallel_for(n, kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) pg[i] = g[i] * dfdx(px[i], py[i]);
    });
    self.inputs[0]->accumulate_grad(gx);
  });
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  return binary("add", a, b, [](float x, float y) { return x + y; }, [](float, float) { return 1.0f; },
                [](float, float) { return 1.0f; });
}

Variable sub(const Variable& a, const Variable& b) {
  return binary("sub", a, b, [](float x, float y) { return x - y; }, [](float, float) { return 1.0f; },
                [](float, float) { return -1.0f; });
}

Variable mul(const Variable& a, const Variable& b) {
  return binary("mul", a, b, [](float x, float y) { return x * y; }, [](float, float y) { return y; },
                [](float x, float) { return x; });
}

Variable div(const Variable& a, const Variable& b) {
  return binary("div", a, b, [](float x, float y) { return x / y; }, [](float, float y) { return 1.0f / y; },
                [](float x, float y) { return -x / (y * y); });
}

Variable add_scalar(const Variable& a, float s) {
  return unary(a, [s](float x) { return x + s; }, [](float, float) { return 1.0f; });
}

Variable mul_scalar(const Variable& a, float s) {
  return unary(a, [s](float x) { return x * s; }, [s](float, float) { return s; });
}

Variable relu(const Variable& x) {
  return unary(x, [](float v) { return v > 0.0f ? v : 0.0f; }, [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
}

Variable gelu(const Variable& x) {
  // gelu(x) = x * Phi(x); d/dx = Phi(x) + x * phi(x).
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
  return unary(
      x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); },
      [](float v, float) {
        return 0.5f * (1.0f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
      });
}

}  // namespace bcqnmt

// Softmax (with an additive, broadcast mask) and log-softmax over the last dimension.
//   softmax:     y = exp(x + m - max) / sum,   dx = y * (dy - <dy, y>)
//   log-softmax: y = x - logsumexp(x),        dx = dy - exp(y) * sum(dy)
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

namespace {

// Offset of each row of x in a mask that broadcasts (size 1 or equal, same rank).
struct MaskIndex {
  std::vector<int64_t> x_shape, m_strides;  // m_strides is 0 where the mask broadcasts
  int64_t last_stride = 0;
  int64_t row_offset(int64_t row) const {
    int64_t off = 0;
    for (int d = static_cast<int>(x_shape.size()) - 2; d >= 0; --d) {
      off += (row % x_shape[d]) * m_strides[d];
      row /= x_shape[d];
    }
    return off;
  }
};

MaskIndex mask_index(const Tensor& x, const Tensor& mask) {
  BCQNMT_CHECK(mask.dim() == x.dim(), "softmax: mask " + shape_str(mask.shape()) + " must have the rank of " +
                                          shape_str(x.shape()));
  MaskIndex mi{x.shape(), std::vector<int64_t>(x.dim(), 0)};
  int64_t stride = 1;
  for (int d = x.dim() - 1; d >= 0; --d) {
    BCQNMT_CHECK(mask.size(d) == x.size(d) || mask.size(d) == 1,
                 "softmax: mask " + shape_str(mask.shape()) + " does not broadcast to " + shape_str(x.shape()));
    mi.m_strides[d] = mask.size(d) == 1 ? 0 : stride;
    stride *= mask.size(d);
  }
  mi.last_stride = mi.m_strides.back();
  return mi;
}

}  // namespace

Variable softmax(const Variable& x, const Tensor& mask) {
  const Tensor& xv = x.value();
  const int64_t n = xv.size(-1);
  const int64_t rows = xv.numel() / std::max<int64_t>(n, 1);
  Tensor out(xv.shape());
  const bool masked = mask.defined();
  const MaskIndex mi = masked ? mask_index(xv, mask) : MaskIndex{};
  const float* px = xv.data();
  const float* pm = masked ? mask.data() : nullptr;
  float* py = out.data();
  parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = px + r * n;
      float* yr = py + r * n;
      const float* mr = masked ? pm + mi.row_offset(r) : nullptr;
      // Separate loops per mask layout, so each one vectorises.
      if (!mr)
        std::copy(xr, xr + n, yr);
      else if (mi.last_stride == 1)
        for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] + mr[j];
      else
        for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] + mr[0];
      const float inv = 1.0f / exp_shifted(yr, n, max_of(yr, n), yr);
      for (int64_t j = 0; j < n; ++j) yr[j] *= inv;
    }
  });
  return Variable::make_result(out, {x}, [out, n, rows](Node& self) {
    Tensor gx(out.shape());
    const float* py = out.data();
    const float* pg = self.grad.data();
    float* pd = gx.data();
    parallel_for(rows, 64, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* y = py + r * n;
        const float* g = pg + r * n;
        float dot = 0.0f;
        for (int64_t j = 0; j < n; ++j) dot += g[j] * y[j];
        for (int64_t j = 0; j < n; ++j) pd[r * n + j] = y[j] * (g[j] - dot);
      }
    });
    self.inputs[0]->accumulate_grad(gx);
  });
}

Variable log_softmax(const Variable& x) {
  const Tensor& xv = x.value();
  const int64_t n = xv.size(-1);
  const int64_t rows = xv.numel() / std::max<int64_t>(n, 1);
  Tensor out(xv.shape());
  const float* px = xv.data();
  float* py = out.data();
  parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = px + r * n;
      const float mx = max_of(xr, n);
      const float lse = mx + std::log(exp_shifted(xr, n, mx, nullptr));
      for (int64_t j = 0; j < n; ++j) py[r * n + j] = xr[j] - lse;
    }
  });
  return Variable::make_result(out, {x}, [out, n, rows](Node& self) {
    Tensor gx(out.shape());
    const float* py = out.data();
    const float* pg = self.grad.data();
    float* pd = gx.data();
    parallel_for(rows, 64, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float total = 0.0f;
        for (int64_t j = 0; j < n; ++j) total += pg[r * n + j];
        exp_shifted(py + r * n, n, 0.0f, pd + r * n);  // softmax = exp(log-softmax)
        for (int64_t j = 0; j < n; ++j) pd[r * n + j] = pg[r * n + j] - pd[r * n + j] * total;
      }
    });
    self.inputs[0]->accumulate_grad(gx);
  });
}

}  // namespace bcqnmt

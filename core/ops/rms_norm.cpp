// Root-mean-square normalisation over the last dimension (Zhang & Sennrich 2019), fused.
//   rstd = 1 / sqrt(mean(x^2) + eps),  xhat = x * rstd,  y = gamma * xhat
// No mean is subtracted and there is no beta. Backward, with dxhat = dy * gamma:
//   dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
//   dgamma = sum_rows dy * xhat
// (d rstd / dx_k = -rstd^3 x_k / D, so the second term is what layer_norm's backward keeps
// once its mean(dxhat) term, which came from subtracting the mean, is gone.)
#include <cmath>

#include "core/column_sums.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

Variable rms_norm(const Variable& x, const Variable& gamma, float eps) {
  const Tensor& xv = x.value();
  const int64_t d = xv.size(-1);
  BCQNMT_CHECK(gamma.numel() == d,
               "rms_norm: gamma of " + std::to_string(gamma.numel()) + " for rows of " + std::to_string(d));
  const int64_t rows = xv.numel() / d;
  Tensor out(xv.shape());
  Tensor xhat(xv.shape());
  Tensor rstd({rows});
  const Tensor gv = gamma.value();
  const float* px = xv.data();
  const float* pg = gv.data();
  float* py = out.data();
  float* ph = xhat.data();
  float* pr = rstd.data();
  parallel_for(rows, 32, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = px + r * d;
      float ms = 0.0f;
      for (int64_t j = 0; j < d; ++j) ms += xr[j] * xr[j];
      ms /= static_cast<float>(d);
      const float rs = 1.0f / std::sqrt(ms + eps);
      pr[r] = rs;
      for (int64_t j = 0; j < d; ++j) {
        const float h = xr[j] * rs;
        ph[r * d + j] = h;
        py[r * d + j] = pg[j] * h;
      }
    }
  });
  return Variable::make_result(out, {x, gamma}, [xhat, rstd, gv, rows, d](Node& self) {
    const float* pg = self.grad.data();
    const float* ph = xhat.data();
    const float* pr = rstd.data();
    const float* gam = gv.data();
    if (self.inputs[0]->requires_grad) {
      Tensor gx(xhat.shape());
      float* pd = gx.data();
      parallel_for(rows, 32, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const float* g = pg + r * d;
          const float* h = ph + r * d;
          float mean_dh_h = 0.0f;
          for (int64_t j = 0; j < d; ++j) mean_dh_h += g[j] * gam[j] * h[j];
          mean_dh_h /= static_cast<float>(d);
          for (int64_t j = 0; j < d; ++j) pd[r * d + j] = pr[r] * (g[j] * gam[j] - h[j] * mean_dh_h);
        }
      });
      self.inputs[0]->accumulate_grad(gx);
    }
    if (self.inputs[1]->requires_grad) {
      Tensor dgamma = Tensor::zeros({d});
      add_column_sums(pg, rows, d, dgamma.data(), ph);  // dgamma = sum_rows dy * xhat
      self.inputs[1]->accumulate_grad(dgamma);
    }
  });
}

}  // namespace bcqnmt

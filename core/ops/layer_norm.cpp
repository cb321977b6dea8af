// Layer normalisation over the last dimension (Ba et al. 2016), fused.
//   xhat = (x - mean) * rstd,  y = gamma * xhat + beta,  rstd = 1 / sqrt(var + eps)
// Backward, with dxhat = dy * gamma:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   dgamma = sum_rows dy * xhat,  dbeta = sum_rows dy
#include <cmath>

#include "core/column_sums.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps) {
  const Tensor& xv = x.value();
  const int64_t d = xv.size(-1);
  BCQNMT_CHECK(gamma.numel() == d && beta.numel() == d,
               "layer_norm: gamma/beta of " + std::to_string(gamma.numel()) + " for rows of " + std::to_string(d));
  const int64_t rows = xv.numel() / d;
  Tensor out(xv.shape());
  Tensor xhat(xv.shape());
  Tensor rstd({rows});
  const Tensor gv = gamma.value();
  const float* px = xv.data();
  const float* pg = gv.data();
  const float* pb = beta.value().data();
  float* py = out.data();
  float* ph = xhat.data();
  float* pr = rstd.data();
  parallel_for(rows, 32, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = px + r * d;
      float mu = 0.0f;
      for (int64_t j = 0; j < d; ++j) mu += xr[j];
      mu /= static_cast<float>(d);
      float var = 0.0f;
      for (int64_t j = 0; j < d; ++j) var += (xr[j] - mu) * (xr[j] - mu);
      var /= static_cast<float>(d);
      const float rs = 1.0f / std::sqrt(var + eps);
      pr[r] = rs;
      for (int64_t j = 0; j < d; ++j) {
        const float h = (xr[j] - mu) * rs;
        ph[r * d + j] = h;
        py[r * d + j] = pg[j] * h + pb[j];
      }
    }
  });
  return Variable::make_result(out, {x, gamma, beta}, [xhat, rstd, gv, rows, d](Node& self) {
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
          float mean_dh = 0.0f, mean_dh_h = 0.0f;
          for (int64_t j = 0; j < d; ++j) {
            const float dh = g[j] * gam[j];
            mean_dh += dh;
            mean_dh_h += dh * h[j];
          }
          mean_dh /= static_cast<float>(d);
          mean_dh_h /= static_cast<float>(d);
          for (int64_t j = 0; j < d; ++j) pd[r * d + j] = pr[r] * (g[j] * gam[j] - mean_dh - h[j] * mean_dh_h);
        }
      });
      self.inputs[0]->accumulate_grad(gx);
    }
    if (self.inputs[1]->requires_grad) {
      Tensor dgamma = Tensor::zeros({d});
      add_column_sums(pg, rows, d, dgamma.data(), ph);
      self.inputs[1]->accumulate_grad(dgamma);
    }
    if (self.inputs[2]->requires_grad) {
      Tensor dbeta = Tensor::zeros({d});
      add_column_sums(pg, rows, d, dbeta.data());
      self.inputs[2]->accumulate_grad(dbeta);
    }
  });
}

}  // namespace bcqnmt

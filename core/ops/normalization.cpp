// Row normalisation over the last dimension, fused: layer-norm (Ba et al. 2016) and RMSNorm
// (Zhang & Sennrich 2019) share one kernel, RMSNorm being layer-norm without centring.
//   layer_norm: xhat = (x - mean(x)) * rstd,  rstd = 1 / sqrt(var(x) + eps),     y = gamma * xhat + beta
//   rms_norm:   xhat = x * rstd,              rstd = 1 / sqrt(mean(x^2) + eps),  y = gamma * xhat
// Backward, with dxhat = dy * gamma:
//   layer_norm: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   rms_norm:   dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
//   dgamma = sum_rows dy * xhat,  dbeta = sum_rows dy
// (For RMSNorm d rstd / dx_k = -rstd^3 x_k / D; the mean(dxhat) term comes from
// subtracting the mean, so it drops out with the centring.)
#include <cmath>

#include "core/column_sums.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {

// beta may be undefined (no shift). center: subtract each row's mean (layer-norm) or not (RMSNorm).
// Longer than most functions on purpose: the op's forward pass and its backward closure sit
// side by side (core/README.md), so the statistics the backward reuses are read in one place.
Variable normalize_rows(const Variable& x, const Variable& gamma, const Variable& beta, float eps, bool center) {
  const Tensor& xv = x.value();
  const int64_t d = xv.size(-1);
  const int64_t rows = xv.numel() / d;
  Tensor out(xv.shape());   // [..., D]
  Tensor xhat(xv.shape());  // [..., D], kept for backward
  Tensor rstd({rows});      // kept for backward
  const Tensor gv = gamma.value();
  const float* px = xv.data();
  const float* pg = gv.data();
  const float* pb = beta.defined() ? beta.value().data() : nullptr;
  float* py = out.data();
  float* ph = xhat.data();
  float* pr = rstd.data();
  parallel_for(rows, 32, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = px + r * d;
      float mu = 0.0f;
      if (center) {
        for (int64_t j = 0; j < d; ++j) mu += xr[j];
        mu /= static_cast<float>(d);
      }
      float ms = 0.0f;  // variance when centred, mean square otherwise
      for (int64_t j = 0; j < d; ++j) ms += (xr[j] - mu) * (xr[j] - mu);
      ms /= static_cast<float>(d);
      const float rs = 1.0f / std::sqrt(ms + eps);
      pr[r] = rs;
      for (int64_t j = 0; j < d; ++j) {
        const float h = (xr[j] - mu) * rs;
        ph[r * d + j] = h;
        py[r * d + j] = pg[j] * h + (pb ? pb[j] : 0.0f);
      }
    }
  });
  std::vector<Variable> inputs{x, gamma};
  if (beta.defined()) inputs.push_back(beta);
  return Variable::make_result(out, inputs, [xhat, rstd, gv, rows, d, center](Node& self) {
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
          mean_dh = center ? mean_dh / static_cast<float>(d) : 0.0f;
          mean_dh_h /= static_cast<float>(d);
          for (int64_t j = 0; j < d; ++j) pd[r * d + j] = pr[r] * (g[j] * gam[j] - mean_dh - h[j] * mean_dh_h);
        }
      });
      self.inputs[0]->accumulate_grad(gx);
    }
    if (self.inputs[1]->requires_grad) {
      Tensor dgamma = Tensor::zeros({d});
      add_column_sums(pg, rows, d, dgamma.data(), ph);  // dgamma = sum_rows dy * xhat
      self.inputs[1]->accumulate_grad(dgamma);
    }
    if (self.inputs.size() > 2 && self.inputs[2]->requires_grad) {
      Tensor dbeta = Tensor::zeros({d});
      add_column_sums(pg, rows, d, dbeta.data());  // dbeta = sum_rows dy
      self.inputs[2]->accumulate_grad(dbeta);
    }
  });
}

}  // namespace

Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps) {
  const int64_t d = x.value().size(-1);
  BCQNMT_CHECK(gamma.numel() == d && beta.numel() == d,
               "layer_norm: gamma/beta of " + std::to_string(gamma.numel()) + " for rows of " + std::to_string(d));
  return normalize_rows(x, gamma, beta, eps, /*center=*/true);
}

Variable rms_norm(const Variable& x, const Variable& gamma, float eps) {
  const int64_t d = x.value().size(-1);
  BCQNMT_CHECK(gamma.numel() == d,
               "rms_norm: gamma of " + std::to_string(gamma.numel()) + " for rows of " + std::to_string(d));
  return normalize_rows(x, gamma, Variable(), eps, /*center=*/false);
}

}  // namespace bcqnmt

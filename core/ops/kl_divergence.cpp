// Masked KL divergence from a fixed target distribution to softmax(logits), mean over the
// counted rows: the soft-label term of knowledge distillation (nn/distillation.h).
//   loss = (1/N) sum_{i: label_i != ignore} sum_j p_ij (log p_ij - log q_ij),  q_i = softmax(x_i)
//   dx_i = (q_i - p_i) / N for counted rows, 0 for ignored ones
// (d/dx of -sum_j p_j log q_j is q - p because sum_j p_j = 1; the p log p term is constant).
// Terms with p_ij = 0 contribute 0 (the limit of p log p), so a one-hot target turns this
// into cross_entropy exactly.
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

Variable kl_divergence(const Variable& logits, const Tensor& target_probs, const IndexTensor& labels, int ignore_index) {
  const Tensor& xv = logits.value();
  BCQNMT_CHECK(target_probs.shape() == xv.shape(), "kl_divergence: target " + shape_str(target_probs.shape()) +
                                                       " for logits " + shape_str(xv.shape()));
  const int64_t v = xv.size(-1);
  const int64_t rows = xv.numel() / v;
  BCQNMT_CHECK(labels.numel() == rows, "kl_divergence: " + std::to_string(labels.numel()) + " labels for logits " +
                                           shape_str(xv.shape()));
  int64_t counted = 0;
  for (int32_t y : labels.data) counted += y != ignore_index;
  Tensor grad(xv.shape());  // q - p per counted row (scaled in backward); zero for ignored rows
  std::vector<double> row_loss(rows, 0.0);
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* g = grad.data() + r * v;
      if (labels.data[r] == ignore_index) {
        std::fill(g, g + v, 0.0f);
        continue;
      }
      const float* x = xv.data() + r * v;
      const float* p = target_probs.data() + r * v;
      const float mx = max_of(x, v);
      const float total = exp_shifted(x, v, mx, g);  // g = exp(x - mx)
      const float log_total = std::log(total);
      const float inv = 1.0f / total;
      double loss = 0.0;
      for (int64_t j = 0; j < v; ++j) {
        if (p[j] > 0.0f) loss += p[j] * (std::log(p[j]) - (x[j] - mx - log_total));
        g[j] = g[j] * inv - p[j];
      }
      row_loss[r] = loss;
    }
  });
  double loss = 0.0;
  for (double l : row_loss) loss += l;  // in order: deterministic
  const float inv_n = counted ? 1.0f / static_cast<float>(counted) : 0.0f;
  Tensor out = Tensor::full({}, static_cast<float>(loss * inv_n));
  return Variable::make_result(out, {logits}, [grad, inv_n](Node& self) mutable {
    const float scale = self.grad.item() * inv_n;
    float* g = grad.data();
    const int64_t n = grad.numel();
    parallel_for(n, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) g[i] *= scale;
    });
    Tensor gx = grad;
    grad = Tensor();  // the gradient owns the buffer now; backward runs once
    self.inputs[0]->accumulate_grad(gx);
  });
}

}  // namespace bcqnmt

// Masked cross-entropy fused with log-softmax, mean over the counted labels.
//   loss = (1/N) sum_{i: label_i != ignore} (logsumexp(x_i) - x_i[label_i])
//   dx_i = (softmax(x_i) - onehot(label_i)) / N for counted rows, 0 for ignored ones.
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

Variable cross_entropy(const Variable& logits, const IndexTensor& labels, int ignore_index) {
  const Tensor& xv = logits.value();
  const int64_t v = xv.size(-1);
  const int64_t rows = xv.numel() / v;
  BCQNMT_CHECK(labels.numel() == rows, "cross_entropy: " + std::to_string(labels.numel()) + " labels for logits " +
                                           shape_str(xv.shape()));
  int64_t counted = 0;
  for (int32_t y : labels.data) {
    if (y == ignore_index) continue;
    BCQNMT_CHECK(y >= 0 && y < v, "cross_entropy: label " + std::to_string(y) + " outside a vocabulary of " + std::to_string(v));
    ++counted;
  }
  Tensor lse({rows});
  std::vector<float> row_loss(rows, 0.0f);
  const float* px = xv.data();
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (labels.data[r] == ignore_index) continue;
      const float* x = px + r * v;
      const float mx = max_of(x, v);
      lse.data()[r] = mx + std::log(exp_shifted(x, v, mx, nullptr));
      row_loss[r] = lse.data()[r] - x[labels.data[r]];
    }
  });
  double loss = 0.0;
  for (float l : row_loss) loss += l;  // in order: deterministic
  const float inv_n = counted ? 1.0f / static_cast<float>(counted) : 0.0f;
  Tensor out = Tensor::full({}, static_cast<float>(loss) * inv_n);
  return Variable::make_result(out, {logits}, [xv, lse, y = labels.data, ignore_index, inv_n, rows, v](Node& self) {
    const float scale = self.grad.item() * inv_n;
    Tensor gx(xv.shape());
    const float* px = xv.data();
    float* pg = gx.data();
    parallel_for(rows, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float* g = pg + r * v;
        if (y[r] == ignore_index) {
          std::fill(g, g + v, 0.0f);
          continue;
        }
        exp_shifted(px + r * v, v, lse.data()[r], g);  // softmax
        for (int64_t j = 0; j < v; ++j) g[j] *= scale;
        g[y[r]] -= scale;
      }
    });
    self.inputs[0]->accumulate_grad(gx);
  });
}

}  // namespace bcqnmt

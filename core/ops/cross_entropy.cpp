// Masked cross-entropy fused with log-softmax, mean over the counted labels.
//   loss = (1/N) sum_{i: label_i != ignore} (logsumexp(x_i) - x_i[label_i])
//   dx_i = (softmax(x_i) - onehot(label_i)) / N for counted rows, 0 for ignored ones.
// The forward pass already computes every exp; it keeps the softmax, which backward
// turns into the gradient in place (one pass over [rows, V] instead of a second exp).
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
  Tensor probs(xv.shape());  // softmax rows; zero for ignored rows
  std::vector<float> row_loss(rows, 0.0f);
  const float* px = xv.data();
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* pr = probs.data() + r * v;
      if (labels.data[r] == ignore_index) {
        std::fill(pr, pr + v, 0.0f);
        continue;
      }
      const float* x = px + r * v;
      const float mx = max_of(x, v);
      const float total = exp_shifted(x, v, mx, pr);
      const float inv = 1.0f / total;
      for (int64_t j = 0; j < v; ++j) pr[j] *= inv;
      row_loss[r] = mx + std::log(total) - x[labels.data[r]];
    }
  });
  double loss = 0.0;
  for (float l : row_loss) loss += l;  // in order: deterministic
  const float inv_n = counted ? 1.0f / static_cast<float>(counted) : 0.0f;
  Tensor out = Tensor::full({}, static_cast<float>(loss) * inv_n);
  return Variable::make_result(out, {logits}, [probs, y = labels.data, ignore_index, inv_n, rows, v](Node& self) mutable {
    const float scale = self.grad.item() * inv_n;
    float* pg = probs.data();
    parallel_for(rows, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        if (y[r] == ignore_index) continue;  // already zero
        float* g = pg + r * v;
        for (int64_t j = 0; j < v; ++j) g[j] *= scale;
        g[y[r]] -= scale;
      }
    });
    Tensor gx = probs;
    probs = Tensor();  // the gradient owns the buffer now; backward runs once
    self.inputs[0]->accumulate_grad(gx);
  });
}

}  // namespace bcqnmt

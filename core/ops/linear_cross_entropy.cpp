// The vocabulary projection and the masked cross-entropy in one op, a block of rows at a
// time. With X [N, D], W [D, V], b [V] and labels y:
//   z_i = x_i W + b      loss = (1/n) sum_{i counted} (logsumexp(z_i) - z_i[y_i])
//   dz_i = (softmax(z_i) - onehot(y_i)) / n      dX = dZ W^T   dW = X^T dZ   db = sum_i dz_i
// Composed as linear + cross_entropy the logits [N, V] and their softmax (each 117 MB for
// a 4,096-token batch and V = 7,010) stay alive from forward to backward and are streamed
// through memory ~10 times. Here forward keeps one logsumexp per row; backward recomputes
// a block's logits with the same GEMM (bit-identical), turns them into dZ in place and
// feeds it to the three products while it is still in cache.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

namespace {

// Rows per block: [512, 7,010] floats is 14 MB, cache-resident on the last level, and
// still two full 256-row GEMM panels for the two cores.
constexpr int64_t kBlockRows = 512;

// z = x W + b for rows [first, first + rows) into block [rows, V]; shared_w is W.
void block_logits(const Tensor& x, const Tensor& w, const Tensor* b, int64_t first, int64_t rows, float* block,
                  SharedGemmOperand& shared_w) {
  const int64_t d = w.size(0), v = w.size(1);
  const float* xb = x.data() + first * d;
  if (b)
    gemm_bias(false, false, rows, v, d, xb, d, w.data(), v, b->data(), block, v, {.shared_b = &shared_w});
  else
    gemm(false, false, rows, v, d, 1.0f, xb, d, w.data(), v, 0.0f, block, v, {.shared_b = &shared_w});
}

// For each block of up to kBlockRows of the n rows: its logits [rows, V] computed into one
// reused buffer (W rounded once for all blocks under bf16), then
// visit(first, rows, block, shared_w).
template <class Visit>
void for_each_logit_block(const Tensor& xv, const Tensor& wv, const Tensor* bias, int64_t n, Visit&& visit) {
  const int64_t d = wv.size(0), v = wv.size(1);
  Tensor block({std::min(n, kBlockRows), v});  // [rows, V]
  SharedGemmOperand shared_w(wv.data(), d, v);
  for (int64_t first = 0; first < n; first += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - first);
    block_logits(xv, wv, bias, first, rows, block.data(), shared_w);
    visit(first, rows, block.data(), shared_w);
  }
}

// The reference path: linear, then cross_entropy, the logits held whole.
Variable composed_linear_cross_entropy(const Variable& x, const Variable& w, const Variable& b,
                                       const IndexTensor& labels, int ignore_index, int64_t* hits) {
  const Variable logits = linear(x, w, b);
  if (hits) {
    const int64_t v = logits.size(-1);
    *hits = 0;
    for (int64_t r = 0; r < labels.numel(); ++r)
      if (labels.data[r] != ignore_index) {
        const float* z = logits.value().data() + r * v;
        *hits += first_argmax_is(z, labels.data[r], max_of(z, v));
      }
  }
  return cross_entropy(logits, labels, ignore_index);
}

// The rows whose label counts (not ignore_index); CoreError for a label outside [0, v).
int64_t counted_rows(const IndexTensor& labels, int64_t v, int ignore_index) {
  int64_t counted = 0;
  for (int32_t y : labels.data) {
    if (y == ignore_index) continue;
    BCQNMT_CHECK(y >= 0 && y < v, "linear_cross_entropy: label " + std::to_string(y) + " outside a vocabulary of " +
                                      std::to_string(v));
    ++counted;
  }
  return counted;
}

// Forward, a block of rows at a time: per counted row its logsumexp (kept for backward),
// its loss lse - z[label] and whether the label is the first argmax.
struct RowLosses {
  std::vector<float> logsumexp, loss;
  std::vector<uint8_t> hit;
};
RowLosses row_losses(const Tensor& xv, const Tensor& wv, const Tensor* bias, const IndexTensor& labels,
                     int ignore_index) {
  const int64_t v = wv.size(1), n = labels.numel();
  RowLosses out{std::vector<float>(static_cast<size_t>(n), 0.0f), std::vector<float>(static_cast<size_t>(n), 0.0f),
                std::vector<uint8_t>(static_cast<size_t>(n), 0)};
  for_each_logit_block(xv, wv, bias, n, [&](int64_t first, int64_t rows, const float* block, SharedGemmOperand&) {
    parallel_for(rows, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t r = first + i, label = labels.data[r];
        if (label == ignore_index) continue;
        const float* z = block + i * v;
        const float top = max_of(z, v);
        const float lse = top + std::log(exp_shifted(z, v, top, nullptr));
        out.logsumexp[r] = lse;
        out.loss[r] = lse - z[label];
        out.hit[r] = first_argmax_is(z, label, top);
      }
    });
  });
  return out;
}

// Backward, a block of rows at a time: the block's logits recomputed (the same GEMM, so
// bit-identical), turned into dZ = scale (softmax - onehot) in place, then dX += dZ W^T,
// dW += X^T dZ, db += column sums of dZ (each pointer null when not wanted).
void backward_blocks(const Tensor& xv, const Tensor& wv, const Tensor* bias, const std::vector<int32_t>& y,
                     const std::vector<float>& logsumexp, int ignore_index, float scale, float* dx, float beta_x,
                     float* dw, float beta_w, float* db) {
  const int64_t d = wv.size(0), v = wv.size(1), n = static_cast<int64_t>(y.size());
  for_each_logit_block(xv, wv, bias, n, [&](int64_t first, int64_t rows, float* block, SharedGemmOperand& shared_w) {
    parallel_for(rows, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t r = first + i;
        float* g = block + i * v;
        if (y[r] == ignore_index) {
          std::fill(g, g + v, 0.0f);
          continue;
        }
        exp_shifted(g, v, logsumexp[r], g);  // softmax
        for (int64_t j = 0; j < v; ++j) g[j] *= scale;
        g[y[r]] -= scale;
      }
    });
    SharedGemmOperand shared_dz(block, rows, v);  // bf16 rounds dZ once for dX and dW
    if (db) shared_dz.add_column_sums(db);
    if (dx)
      gemm(false, true, rows, d, v, 1.0f, block, v, wv.data(), v, beta_x, dx + first * d, d,
           {.shared_a = &shared_dz, .shared_b = &shared_w});
    if (dw)
      gemm(true, false, d, v, rows, 1.0f, xv.data() + first * d, d, block, v, first == 0 ? beta_w : 1.0f, dw, v,
           {.shared_b = &shared_dz});
  });
}

}  // namespace

Variable linear_cross_entropy(const Variable& x, const Variable& w, const Variable& b, const IndexTensor& labels,
                              int ignore_index, int64_t* hits) {
  if (kernel_path() == KernelPath::reference) return composed_linear_cross_entropy(x, w, b, labels, ignore_index, hits);
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  BCQNMT_CHECK(wv.dim() == 2 && xv.dim() >= 1 && xv.size(-1) == wv.size(0),
               "linear_cross_entropy: input " + shape_str(xv.shape()) + " does not fit weight " + shape_str(wv.shape()));
  const int64_t d = wv.size(0), v = wv.size(1), n = xv.numel() / std::max<int64_t>(d, 1);
  BCQNMT_CHECK(!b.defined() || b.numel() == v, "linear_cross_entropy: bias of " + std::to_string(b.numel()) + " for " +
                                                    std::to_string(v) + " outputs");
  BCQNMT_CHECK(labels.numel() == n, "linear_cross_entropy: " + std::to_string(labels.numel()) + " labels for " +
                                        std::to_string(n) + " rows");
  const int64_t counted = counted_rows(labels, v, ignore_index);
  const Tensor bias = b.defined() ? b.value() : Tensor();
  const RowLosses rows = row_losses(xv, wv, b.defined() ? &bias : nullptr, labels, ignore_index);
  double loss = 0.0;
  for (float l : rows.loss) loss += l;  // in order: deterministic
  if (hits) {
    *hits = 0;
    for (uint8_t h : rows.hit) *hits += h;
  }
  const float inv_n = counted ? 1.0f / static_cast<float>(counted) : 0.0f;
  Tensor out = Tensor::full({}, static_cast<float>(loss) * inv_n);

  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return Variable::make_result(
      out, inputs, [xv, wv, bias, y = labels.data, logsumexp = rows.logsumexp, ignore_index, inv_n](Node& self) {
        Node& nx = *self.inputs[0];
        Node& nw = *self.inputs[1];
        Node* nb = self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2].get() : nullptr;
        float beta_x = 0.0f, beta_w = 0.0f;
        float* dx = nx.requires_grad ? nx.grad_output(beta_x).data() : nullptr;  // [N, D]
        float* dw = nw.requires_grad ? nw.grad_output(beta_w).data() : nullptr;  // [D, V]
        float* db = nb ? nb->grad_buffer().data() : nullptr;                      // [V]
        backward_blocks(xv, wv, bias.defined() ? &bias : nullptr, y, logsumexp, ignore_index,
                        self.grad.item() * inv_n, dx, beta_x, dw, beta_w, db);
      });
}

}  // namespace bcqnmt

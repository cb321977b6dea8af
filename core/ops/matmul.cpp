// Matrix multiplication, 2-D and batched, with transposes handed to cblas_sgemm.
//
// For C = op(A) op(B) with op(A) [M, K], op(B) [K, N] and upstream gradient dC [M, N]:
//   d op(A) = dC op(B)^T      d op(B) = op(A)^T dC
// and when A (or B) is stored transposed, its gradient is the transpose of that, which is
// again one GEMM with the operands swapped. Gradients go straight into
// the inputs' gradient buffers.
//
// Under bf16 matmuls (core/gemm_bf16.h) only the dense-layer form — every row of A against
// one 2-D B, a weight — rounds to bf16; batched products of two activations (attention's)
// stay fp32, as they do in the fused attention.
#include "core/error.h"
#include "core/gemm.h"
#include "core/ops.h"

namespace bcqnmt {

namespace {

struct BatchedGemm {
  int64_t batch, m, n, k;
  int64_t a_stride, b_stride;  // elements between consecutive batch matrices (0: shared)
  bool dense;                  // A's rows against one 2-D B
  // Only the dense form may round to bf16 (the context decides); the others stay fp32.
  GemmOptions options() const { return {.fp32 = !dense}; }
};

// dA, dB for one matrix product; either pointer may be null (no gradient wanted). beta_a
// and beta_b are 0 for a fresh gradient buffer, 1 to accumulate.
void matmul_backward(const BatchedGemm& s, bool ta, bool tb, const float* a, const float* b, const float* dc, float* da,
                     float beta_a, float* db, float beta_b) {
  const int64_t lda = ta ? s.m : s.k;
  const int64_t ldb = tb ? s.k : s.n;
  const GemmOptions options = s.options();
  for (int64_t i = 0; i < s.batch; ++i) {
    const float* ai = a + i * s.a_stride;
    const float* bi = b + i * s.b_stride;
    const float* dci = dc + i * s.m * s.n;
    if (da) {
      float* dai = da + i * s.a_stride;
      if (!ta)
        gemm(false, !tb, s.m, s.k, s.n, 1.0f, dci, s.n, bi, ldb, beta_a, dai, s.k, options);  // dC op(B)^T
      else
        gemm(tb, true, s.k, s.m, s.n, 1.0f, bi, ldb, dci, s.n, beta_a, dai, s.m, options);  // op(B) dC^T
    }
    if (db) {
      float* dbi = db + i * s.b_stride;
      if (!tb)
        gemm(!ta, false, s.k, s.n, s.m, 1.0f, ai, lda, dci, s.n, beta_b, dbi, s.n, options);  // op(A)^T dC
      else
        gemm(true, ta, s.n, s.k, s.m, 1.0f, dci, s.n, ai, lda, beta_b, dbi, s.k, options);  // dC^T op(A)
    }
  }
}

}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool trans_a, bool trans_b) {
  const Tensor& av = a.value();
  const Tensor& bv = b.value();
  auto fail = [&](const std::string& why) {
    return CoreError("matmul: " + why + ", " + shape_str(av.shape()) + (trans_a ? "^T" : "") + " x " +
                     shape_str(bv.shape()) + (trans_b ? "^T" : ""));
  };
  if (av.dim() < 2 || bv.dim() < 2) throw fail("both operands need at least 2 dimensions");
  BatchedGemm s{};
  Shape out_shape;
  const int64_t b_rows = bv.size(-2), b_cols = bv.size(-1);
  const int64_t kb = trans_b ? b_cols : b_rows;
  s.n = trans_b ? b_rows : b_cols;
  if (bv.dim() == 2 && !trans_a) {
    // Every leading row of A meets the same B: one GEMM over [rows, K].
    s.batch = 1;
    s.k = av.size(-1);
    s.m = av.numel() / s.k;
    out_shape = av.shape();
    out_shape.back() = s.n;
    s.a_stride = s.b_stride = 0;
    s.dense = true;
  } else {
    if (av.dim() != bv.dim()) throw fail("batched operands need the same rank");
    for (int d = 0; d < av.dim() - 2; ++d)
      if (av.size(d) != bv.size(d)) throw fail("leading dimensions differ");
    s.m = trans_a ? av.size(-1) : av.size(-2);
    s.k = trans_a ? av.size(-2) : av.size(-1);
    s.batch = av.numel() / (s.m * s.k);
    s.a_stride = s.m * s.k;
    s.b_stride = kb * s.n;
    out_shape = av.shape();
    out_shape[out_shape.size() - 2] = s.m;
    out_shape.back() = s.n;
  }
  if (s.k != kb) throw fail("inner dimensions differ");

  Tensor out(out_shape);
  const int64_t lda = trans_a ? s.m : s.k;
  const int64_t ldb = trans_b ? s.k : s.n;
  for (int64_t i = 0; i < s.batch; ++i)
    gemm(trans_a, trans_b, s.m, s.n, s.k, 1.0f, av.data() + i * s.a_stride, lda, bv.data() + i * s.b_stride, ldb,
         0.0f, out.data() + i * s.m * s.n, s.n, s.options());
  if (s.k == 0) out.fill(0.0f);

  return Variable::make_result(out, {a, b}, [av, bv, s, trans_a, trans_b](Node& self) {
    Node& na = *self.inputs[0];
    Node& nb = *self.inputs[1];
    float beta_a = 1.0f, beta_b = 1.0f;
    float* da = na.requires_grad ? na.grad_output(beta_a).data() : nullptr;
    float* db = nb.requires_grad ? nb.grad_output(beta_b).data() : nullptr;
    matmul_backward(s, trans_a, trans_b, av.data(), bv.data(), self.grad.data(), da, beta_a, db, beta_b);
  });
}

}  // namespace bcqnmt

#pragma once
// Mixed-precision GEMM for training: the operands are rounded to bfloat16, the products
// accumulate in fp32 and C stays fp32 — what PyTorch's CPU autocast does. On CPUs with AMX
// (Sapphire Rapids and later) oneDNN runs these products 4-6x faster than fp32 sgemm on
// this model's shapes; everything outside the GEMMs (master weights, Adam, softmax,
// normalisation, the attention's small products) stays fp32. See docs/performance.md.
//
// core/gemm.h routes gemm() here while set_gemm_precision(GemmPrecision::bf16) is in
// force; gemm_bf16 is also public so tests can compare it with sgemm directly.
#include <cstdint>
#include <string>

namespace bcqnmt {

enum class GemmPrecision { fp32, bf16 };

// Switching to bf16 throws std::runtime_error, naming the reason, when this CPU or this
// oneDNN cannot run bf16 matmuls natively (no AVX512-BF16 or AMX).
void set_gemm_precision(GemmPrecision precision);
GemmPrecision gemm_precision();
GemmPrecision parse_gemm_precision(const std::string& name);  // "fp32" | "bf16"
const char* gemm_precision_name(GemmPrecision precision);

// The precision for one scope (a training run), restoring the previous one after it.
class GemmPrecisionScope {
 public:
  explicit GemmPrecisionScope(GemmPrecision precision) : previous_(gemm_precision()) { set_gemm_precision(precision); }
  ~GemmPrecisionScope() { set_gemm_precision(previous_); }
  GemmPrecisionScope(const GemmPrecisionScope&) = delete;
  GemmPrecisionScope& operator=(const GemmPrecisionScope&) = delete;

 private:
  GemmPrecision previous_;
};

// Declares that `data` [rows, cols] (contiguous) keeps its values for this scope (scopes
// nest, up to 4 deep), so the bf16 products that read it — a dense layer's output gradient feeds both its input and
// its weight gradient — round it once instead of once each. Without bf16, a no-op.
// Rounding is bandwidth-bound, and the largest operands (the [tokens, 7,010] logits
// gradient) cost as much to round as to multiply.
class SharedGemmOperand {
 public:
  SharedGemmOperand(const float* data, int64_t rows, int64_t cols);
  ~SharedGemmOperand();
  SharedGemmOperand(const SharedGemmOperand&) = delete;
  SharedGemmOperand& operator=(const SharedGemmOperand&) = delete;
  // out[j] += sum_r data[r, j] (core/column_sums.h, same result). Under bf16, called before
  // the products, it rounds each row in the same pass: one read of the operand instead of
  // two (a bias gradient is the column sums of the dY its products share).
  void add_column_sums(float* out);

 private:
  int slot_;  // its place among the open scopes
};

// Empty when bf16 GEMMs run natively here; otherwise why not (decided once per process).
std::string bf16_gemm_unavailable_reason();

// C = op(A) op(B) + beta C (+ 1 bias^T when bias [n] is given; only with !trans_a) with
// op(A), op(B) rounded to bf16 (alpha is 1: the only value bcqnmt uses). Same argument
// conventions as gemm().
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias = nullptr);

// The plain path gemm_bf16 is tested against: the operands rounded to bf16 into fp32
// copies, then one cblas_sgemm. Products of bf16 values are exact in fp32, so the two agree
// up to the order of the fp32 sums.
void gemm_bf16_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Round-to-nearest-even fp32 -> bf16 -> fp32, the rounding gemm_bf16 applies to its
// operands (tests build their reference products from it).
float round_to_bf16(float x);

}  // namespace bcqnmt

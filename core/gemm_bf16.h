#pragma once
// Mixed-precision GEMM for training: the operands are rounded to bfloat16, the products
// accumulate in fp32 and C stays fp32 — what PyTorch's CPU autocast does. On CPUs with AMX
// (Sapphire Rapids and later) oneDNN runs these products 4-6x faster than fp32 sgemm on
// this model's shapes; everything outside the GEMMs (master weights, Adam, softmax,
// normalisation, the attention's small products) stays fp32. See docs/performance.md.
//
// core/gemm.h routes gemm() here while the execution context's precision is bf16
// (GemmPrecisionScope, core/execution_context.h); gemm_bf16 is also public so tests can
// compare it with sgemm directly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/execution_context.h"
#include "core/name_table.h"

namespace bcqnmt {

// "fp32", "bf16": the precisions' names (core/name_table.h).
const NameTable<GemmPrecision>& gemm_precision_names();

// An operand `data` [rows, cols] (contiguous) that several bf16 products read while it
// keeps its values — a dense layer's output gradient feeds both its input and its weight
// gradient — rounded once instead of once each. The products name it explicitly
// (GemmOptions::shared_a / shared_b, core/gemm.h); under fp32 it is never rounded.
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
  // Whether `src` [rows, cols] with leading dimension ld is this operand.
  bool is(const float* src, int64_t rows, int64_t cols, int64_t ld) const {
    return src == source_ && rows == rows_ && cols == cols_ && ld == cols_;
  }
  // The operand in bf16, its rows zero-padded to a multiple of 64 (so it serves as a row
  // operand, padded to 16, and as a depth one, padded to 64); rounded on the first call.
  const uint16_t* bf16_rows();

 private:
  uint16_t* allocate_rounded();  // the padded block, acquired on first use
  const float* source_;
  int64_t rows_, cols_;
  float* block_ = nullptr;  // the rounded copy, a block of the storage pool (core/storage_pool.h)
  size_t granted_ = 0;
  bool ready_ = false;
};

// Empty when bf16 GEMMs run natively here; otherwise why not (decided once per process).
std::string bf16_gemm_unavailable_reason();

// C = op(A) op(B) + beta C (+ 1 bias^T when bias [n] is given; only with !trans_a) with
// op(A), op(B) rounded to bf16 (alpha is 1: the only value bcqnmt uses). Same argument
// conventions as gemm(); shared_a / shared_b as GemmOptions says.
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias = nullptr,
               SharedGemmOperand* shared_a = nullptr, SharedGemmOperand* shared_b = nullptr);

// The plain path gemm_bf16 is tested against: the operands rounded to bf16 into fp32
// copies, then one cblas_sgemm. Products of bf16 values are exact in fp32, so the two agree
// up to the order of the fp32 sums.
void gemm_bf16_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Round-to-nearest-even fp32 -> bf16 -> fp32, the rounding gemm_bf16 applies to its
// operands (tests build their reference products from it).
float round_to_bf16(float x);

}  // namespace bcqnmt

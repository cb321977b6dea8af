#pragma once
// Row-major C = alpha * op(A) * op(B) + beta * C, a thin, named wrapper of cblas_sgemm so
// the rest of the code never spells out CBLAS enums. op(A) is [M, K], op(B) is [K, N].
// A one-row product (M = 1, a decoding step's) runs as cblas_sgemv (core/gemm.cpp says why).
//
// How a product runs follows this thread's execution context (core/execution_context.h):
// the kernel path (panels over the thread team, or one BLAS call), the precision (fp32, or
// bf16 operands through core/gemm_bf16.h) and the observer, which every gemm() and
// gemm_bias() call reports to.
#include <cstdint>

#include "core/execution_context.h"

namespace bcqnmt {

class SharedGemmOperand;

// What one product needs to know beyond its operands; the defaults fit most calls.
struct GemmOptions {
  // A and/or B as a SharedGemmOperand (core/gemm_bf16.h): an operand that several products
  // read, rounded to bf16 once for all of them. It must describe the operand exactly as
  // stored (same pointer, rows, columns, contiguous); std::logic_error otherwise. Ignored
  // by fp32 products.
  SharedGemmOperand* shared_a = nullptr;
  SharedGemmOperand* shared_b = nullptr;
  // fp32 whatever the context's precision: batched products of two activations (matmul's
  // attention form) stay fp32 under bf16 matmuls, as they do in the fused attention.
  bool fp32 = false;
};

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options = {});

// C = op(A) op(B) + 1 bias^T, a dense layer's output (bias [n]). In fp32 the bias is copied
// into C's rows and the GEMM adds onto it; under bf16 matmuls oneDNN adds it in the
// product's epilogue, which saves writing C twice and reading it once.
void gemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc, const GemmOptions& options = {});

// The same product on the calling thread only, for callers that are already inside a
// parallel loop (e.g. per (batch, head) in attention). fp32, not reported to the observer.
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace bcqnmt

#pragma once
// Row-major C = alpha * op(A) * op(B) + beta * C, a thin, named wrapper of cblas_sgemm so
// the rest of the code never spells out CBLAS enums. op(A) is [M, K], op(B) is [K, N].
#include <cstdint>

namespace bcqnmt {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// C = op(A) op(B) + 1 bias^T, a dense layer's output (bias [n]). In fp32 the bias is copied
// into C's rows and the GEMM adds onto it; under bf16 matmuls oneDNN adds it in the
// product's epilogue, which saves writing C twice and reading it once.
void gemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc);

// The same product on the calling thread only, for callers that are already inside a
// parallel loop (e.g. per (batch, head) in attention). Not reported to the observer.
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Profiling: while an observer is set, every gemm() call reports its shape and its wall
// time to it (the training-step benchmark replays the shapes on raw cblas_sgemm for the
// GEMM-only bound, and sums the times for the step's share of time in GEMM).
struct GemmShape {
  bool trans_a, trans_b;
  int64_t m, n, k;
  double seconds = 0.0;
};
void set_gemm_observer(void (*observer)(const GemmShape&));

}  // namespace bcqnmt

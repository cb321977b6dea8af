#include "core/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "core/gemm_bf16.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {

// C [1, N] = alpha A [1, K] op(B) + beta C as one sgemv: with op(B) = B^T (B stored [N, K])
// it is C = B a, otherwise (B stored [K, N]) C = B^T a. A transposed is stored [K, 1], one
// float per lda.
//
// Why: OpenBLAS's sgemm (0.3.21, Debian 12) packs all of op(B) into its panel layout even
// for a single row of A, so it reads B twice and writes it once. A batch-1 decoding step is
// one row everywhere: every dense layer, and every attention product (one query per
// (batch, head) against the cached keys and values). As sgemm, those products spent more
// time packing than multiplying (perf, 3-bit batch-1 step: 18% of the step in
// sgemm_incopy/itcopy, 17% in the kernel); bench_decode ran fp32 3x and 3-bit 1.4x faster
// with sgemv.
//
// A row's bits may differ between sgemv and sgemm; they already differ between sgemm
// calls of different row counts (OpenBLAS's Haswell kernels, which it picks on Zen 4, sum
// a row's edge tiles in another order), so no batch size was ever bit-for-bit the same.
void sgemv_row(bool trans_a, bool trans_b, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c) {
  const int incx = trans_a ? static_cast<int>(lda) : 1;
  if (trans_b)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), alpha, b, static_cast<int>(ldb),
                a, incx, beta, c, 1);
  else
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(k), static_cast<int>(n), alpha, b, static_cast<int>(ldb),
                a, incx, beta, c, 1);
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 1 && k > 0) return sgemv_row(trans_a, trans_b, n, k, alpha, a, lda, b, ldb, beta, c);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// Below this many multiply-adds one thread is faster than splitting. It was 2^18 while a
// split cost a TBB fork-join; on the thread team, batch-1 fp32 decoding (one-row products of
// 2^16-2^20 multiply-adds) ran at 0.64-0.68 of its 1-thread time with 2^14, 2^15 or 2^16
// and at 0.93-1.05 with 2^18 (bench_decode, 2026-12-01); bucketed training steps stayed
// within 4% (bench_train_step).
constexpr int64_t kParallelWork = int64_t{1} << 15;

// OpenBLAS runs single-threaded (see set_num_threads); parallelism comes from splitting C
// into panels, one per thread, along its larger dimension. One set of threads for the
// whole program means BLAS threads never spin while ours work, or the other way round.
void gemm_panels(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t threads = num_threads();
  if (threads <= 1 || m * n * k < kParallelWork || kernel_path() == KernelPath::reference) {
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  // Panels are multiples of 16 rows/columns so the BLAS micro-kernels stay on full tiles.
  const int64_t panel = std::max<int64_t>(16, (extent + threads - 1) / threads + 15) / 16 * 16;
  const int64_t panels = (extent + panel - 1) / panel;
  parallel_for(panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t lo = p * panel, len = std::min(extent, lo + panel) - lo;
      if (split_rows)
        sgemm(trans_a, trans_b, len, n, k, alpha, trans_a ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc,
              ldc);
      else
        sgemm(trans_a, trans_b, m, len, k, alpha, a, lda, trans_b ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
    }
  });
}

// fp32 sgemm, or under GemmPrecision::bf16 the mixed-precision product of
// core/gemm_bf16.h (its plain path on the reference kernel path).
// With a bias, the fp32 paths first copy it into every row of C and accumulate onto it.
void gemm_dispatch(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
                   const GemmOptions& options) {
  const bool bf16 = gemm_precision() == GemmPrecision::bf16 && !options.fp32 && alpha == 1.0f && k > 0;
  const bool fast = kernel_path() == KernelPath::fast;
  if (bias && !(bf16 && fast && !trans_a)) {
    parallel_for(m, std::max<int64_t>(1, kElementwiseGrain / n), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) std::copy(bias, bias + n, c + r * ldc);
    });
    bias = nullptr;
    beta = 1.0f;
  }
  if (bf16) {
    if (fast)
      gemm_bf16(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, bias, options.shared_a, options.shared_b);
    else
      gemm_bf16_reference(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  gemm_panels(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void observed_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
                   const GemmOptions& options) {
  if (m == 0 || n == 0) return;
  const GemmObserver observer = execution_context().gemm_observer;
  if (!observer) return gemm_dispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, options);
  const auto start = std::chrono::steady_clock::now();
  gemm_dispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, options);
  observer({trans_a, trans_b, m, n, k, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options) {
  observed_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr, options);
}

void gemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc, const GemmOptions& options) {
  observed_gemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, bias, options);
}

void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace bcqnmt

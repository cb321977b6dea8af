// The mixed-precision GEMM (core/gemm_bf16.h) against its plain path: operands rounded to
// bf16 in fp32 copies, then one cblas_sgemm. bf16 x bf16 products are exact in fp32, so
// only the order of the fp32 sums differs. Runs only where oneDNN has native bf16
// (AVX512-BF16 or AMX) and says so when skipped; ctest runs it once per oneDNN ISA level
// (tests/isa_cap.h).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/column_sums.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/random.h"
#include "isa_cap.h"

using namespace bcqnmt;

namespace {

bool bf16_available() { return test::bf16_runs_at_capped_isa(); }

// max |fast - plain| / (max |plain| + 1) over C, for one product with strided operands.
double worst_difference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float beta, uint64_t seed) {
  Rng rng(seed);
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;
  const std::vector<float> a = rng.normals(static_cast<size_t>((ta ? k : m) * lda));
  const std::vector<float> b = rng.normals(static_cast<size_t>((tb ? n : k) * ldb));
  const std::vector<float> c0 = rng.normals(static_cast<size_t>(m * ldc));
  std::vector<float> fast = c0, plain = c0;
  gemm_bf16(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, beta, fast.data(), ldc);
  gemm_bf16_reference(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, beta, plain.data(), ldc);
  double worst = 0.0, scale = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      worst = std::max(worst, static_cast<double>(std::abs(fast[at] - plain[at])));
      scale = std::max(scale, static_cast<double>(std::abs(plain[at])));
    }
  // Padding columns beyond n are never written.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldc; ++j) CHECK(fast[static_cast<size_t>(i * ldc + j)] == c0[static_cast<size_t>(i * ldc + j)]);
  return worst / (scale + 1.0);
}

}  // namespace

TEST_CASE("round_to_bf16 rounds to nearest, ties to even") {
  CHECK(round_to_bf16(1.0f) == 1.0f);
  CHECK(round_to_bf16(1.0f + 0x1p-8f) == 1.0f);               // tie between 1 and 1 + 2^-7: even (1)
  CHECK(round_to_bf16(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);  // tie: even (1 + 2^-6)
  CHECK(round_to_bf16(1.0f + 0x1p-8f + 0x1p-12f) == 1.0f + 0x1p-7f);
  CHECK(round_to_bf16(-2.5f) == -2.5f);
  CHECK(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isinf(round_to_bf16(std::numeric_limits<float>::infinity())));
}

TEST_CASE("gemm_bf16 matches its plain path for every transpose, ragged token counts and beta") {
  if (!bf16_available()) return;
  // Rows (the token dimension of X W): below, at and across the 256-row panels, with and
  // without a 16-row remainder. Depth (the token dimension of X^T dY): across the 64 padding.
  for (int64_t tokens : {1, 15, 16, 255, 256, 300, 777}) {
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f}) {
        CAPTURE(tokens);
        CAPTURE(tb);
        CAPTURE(beta);
        CHECK(worst_difference(false, tb, tokens, 96, 72, beta, 1) < 1e-5);
        CHECK(worst_difference(true, tb, 48, 80, tokens, beta, 2) < 1e-5);
      }
  }
}

// Each path against the exact (double) sum of the rounded operands' products. Products of
// bf16 values are exact in fp32, so what remains is fp32 summation: Higham (Accuracy and
// Stability of Numerical Algorithms, 2002, eq. 3.5) bounds it by gamma_K sum|a_i b_i|,
// gamma_K = K u / (1 - K u), u = 2^-24, for any order of the sums; C's own rounding adds u.
// Whatever oneDNN kernel runs (AMX tiles, AVX512-BF16 dot-pairs), a kernel that rounds
// differently, loses precision or drops padding breaks the bound by orders of magnitude.
TEST_CASE("both bf16 paths are within Higham's summation bound of the exact products") {
  if (!bf16_available()) return;
  struct Shape {
    bool ta, tb;
    int64_t m, n, k;
  };
  // The model's dense-layer shapes: X W for Q/K/V and FFN-in, FFN-out, dY W^T, X^T dY.
  for (const Shape& s : {Shape{false, false, 300, 1024, 128}, Shape{false, false, 300, 128, 512},
                         Shape{false, true, 300, 128, 1024}, Shape{true, false, 128, 512, 777}}) {
    CAPTURE(s.ta);
    CAPTURE(s.tb);
    CAPTURE(s.k);
    Rng rng(13);
    const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    const std::vector<float> a = rng.normals((s.ta ? s.k : s.m) * lda), b = rng.normals((s.tb ? s.n : s.k) * ldb);
    std::vector<float> fast(s.m * s.n), plain(s.m * s.n);
    gemm_bf16(s.ta, s.tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, 0.0f, fast.data(), s.n);
    gemm_bf16_reference(s.ta, s.tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, 0.0f, plain.data(), s.n);
    const double u = 0x1p-24, gamma = s.k * u / (1.0 - s.k * u);
    double worst_fast = 0.0, worst_plain = 0.0;  // |C - exact| / ((gamma_K + u) sum|a b|)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double exact = 0.0, magnitude = 0.0;
        for (int64_t p = 0; p < s.k; ++p) {
          const double x = round_to_bf16(s.ta ? a[p * lda + i] : a[i * lda + p]);
          const double y = round_to_bf16(s.tb ? b[j * ldb + p] : b[p * ldb + j]);
          exact += x * y;
          magnitude += std::abs(x * y);
        }
        const double bound = (gamma + u) * magnitude;
        worst_fast = std::max(worst_fast, std::abs(fast[i * s.n + j] - exact) / bound);
        worst_plain = std::max(worst_plain, std::abs(plain[i * s.n + j] - exact) / bound);
      }
    MESSAGE("K " << s.k << ": worst error as a share of the bound: oneDNN " << worst_fast << ", plain " << worst_plain);
    CHECK(worst_fast <= 1.0);
    CHECK(worst_plain <= 1.0);
  }
}

TEST_CASE("gemm() takes the bf16 path only while the precision says so") {
  if (!bf16_available()) return;
  Rng rng(5);
  const int64_t m = 40, n = 24, k = 32;
  const std::vector<float> a = rng.normals(m * k), b = rng.normals(k * n);
  std::vector<float> fp32(m * n), mixed(m * n), rounded(m * n);
  gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, fp32.data(), n);
  {
    const GemmPrecisionScope bf16(GemmPrecision::bf16);
    gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, mixed.data(), n);
  }
  gemm_bf16_reference(false, false, m, n, k, a.data(), k, b.data(), n, 0.0f, rounded.data(), n);
  double to_rounded = 0.0, to_fp32 = 0.0;
  for (size_t i = 0; i < fp32.size(); ++i) {
    to_rounded = std::max(to_rounded, static_cast<double>(std::abs(mixed[i] - rounded[i])));
    to_fp32 = std::max(to_fp32, static_cast<double>(std::abs(mixed[i] - fp32[i])));
  }
  CHECK(to_rounded < 1e-4);
  CHECK(to_fp32 > 1e-4);  // bf16 rounding (2^-9 relative per operand) is visible in fp32
  CHECK(to_fp32 < 0.2);
}

TEST_CASE("matmul precision names") {
  CHECK(gemm_precision_names().parse("bf16") == GemmPrecision::bf16);
  CHECK(gemm_precision_names().name(gemm_precision_names().parse("fp32")) == "fp32");
  CHECK_THROWS_WITH_AS(gemm_precision_names().parse("fp16"), "matmul precision must be \"fp32\" or \"bf16\", not \"fp16\"",
                       std::invalid_argument);
}

TEST_CASE("a shared operand is rounded once and gives the same products") {
  if (!bf16_available()) return;
  Rng rng(9);
  const int64_t tokens = 300, in = 40, out = 72;  // dY [tokens, out], X [tokens, in], W [in, out]
  const std::vector<float> dy = rng.normals(tokens * out), x = rng.normals(tokens * in), w = rng.normals(in * out);
  auto products = [&](std::vector<float>& dx, std::vector<float>& dw, SharedGemmOperand* shared_dy) {
    dx.assign(tokens * in, 0.0f);
    dw.assign(in * out, 0.0f);
    gemm(false, true, tokens, in, out, 1.0f, dy.data(), out, w.data(), out, 0.0f, dx.data(), in,
         {.shared_a = shared_dy});
    gemm(true, false, in, out, tokens, 1.0f, x.data(), in, dy.data(), out, 0.0f, dw.data(), out,
         {.shared_b = shared_dy});
  };
  const GemmPrecisionScope bf16(GemmPrecision::bf16);
  std::vector<float> dx, dw, dx_shared, dw_shared;
  products(dx, dw, nullptr);
  std::vector<float> sums(out, 0.0f), sums_shared(out, 0.0f);
  add_column_sums(dy.data(), tokens, out, sums.data());
  {
    SharedGemmOperand shared(dy.data(), tokens, out);
    shared.add_column_sums(sums_shared.data());  // rounds dY in the same pass
    products(dx_shared, dw_shared, &shared);
  }
  CHECK(dx == dx_shared);
  CHECK(dw == dw_shared);
  CHECK(sums == sums_shared);
}

TEST_CASE("gemm_bias: the bias added in oneDNN's epilogue equals bias rows + GEMM") {
  if (!bf16_available()) return;
  for (int64_t tokens : {15, 256, 300}) {
    CAPTURE(tokens);
    Rng rng(11);
    const int64_t in = 40, out = 72;
    const std::vector<float> x = rng.normals(tokens * in), w = rng.normals(in * out), bias = rng.normals(out);
    std::vector<float> fast(tokens * out), plain(tokens * out);
    const GemmPrecisionScope bf16(GemmPrecision::bf16);
    gemm_bias(false, false, tokens, out, in, x.data(), in, w.data(), out, bias.data(), fast.data(), out);
    {
      const KernelPathScope reference(KernelPath::reference);
      gemm_bias(false, false, tokens, out, in, x.data(), in, w.data(), out, bias.data(), plain.data(), out);
    }
    double worst = 0.0;
    for (size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(fast[i] - plain[i])));
    CHECK(worst < 1e-4);
  }
}

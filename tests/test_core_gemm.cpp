// The fp32 products of core/gemm.h against a plain triple loop in double. A one-row product
// runs as sgemv rather than sgemm (core/gemm.cpp says why), so one row and several are
// checked: every transpose, strided operands, beta 0 over garbage (NaN) and beta 1 onto C.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/gemm.h"
#include "core/random.h"

using namespace bcqnmt;

namespace {

// max |gemm - exact| / (max |exact| + 1) over C, for one product with strided operands.
// C starts as NaN where beta is 0, so a product that reads C instead of overwriting it fails.
double worst_difference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, bool serial,
                        uint64_t seed) {
  Rng rng(seed);
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;
  const std::vector<float> a = rng.normals(static_cast<size_t>((ta ? k : m) * lda));
  const std::vector<float> b = rng.normals(static_cast<size_t>((tb ? n : k) * ldb));
  std::vector<float> c0 = rng.normals(static_cast<size_t>(m * ldc));
  if (beta == 0.0f)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c0[static_cast<size_t>(i * ldc + j)] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> c = c0;
  if (serial)
    gemm_serial(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  else
    gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  double worst = 0.0, scale = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0.0;
      for (int64_t p = 0; p < k; ++p)
        exact += static_cast<double>(a[static_cast<size_t>(ta ? p * lda + i : i * lda + p)]) *
                 static_cast<double>(b[static_cast<size_t>(tb ? j * ldb + p : p * ldb + j)]);
      exact *= alpha;
      if (beta != 0.0f) exact += static_cast<double>(beta) * static_cast<double>(c0[static_cast<size_t>(i * ldc + j)]);
      const float got = c[static_cast<size_t>(i * ldc + j)];
      if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
      worst = std::max(worst, std::abs(static_cast<double>(got) - exact));
      scale = std::max(scale, std::abs(exact));
    }
  // Padding columns beyond n are never written.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldc; ++j) {
      const auto at = static_cast<size_t>(i * ldc + j);
      CHECK(c[at] == c0[at]);
    }
  return worst / (scale + 1.0);
}

}  // namespace

TEST_CASE("gemm and gemm_serial equal the exact product for one row and several, every transpose, alpha and beta") {
  uint64_t seed = 1;
  for (bool serial : {false, true})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f})
          for (int64_t m : {1, 2, 17, 64})
            for (int64_t n : {1, 7, 129})
              for (int64_t k : {1, 20, 128}) {
                CAPTURE(serial);
                CAPTURE(ta);
                CAPTURE(tb);
                CAPTURE(beta);
                CAPTURE(m);
                CAPTURE(n);
                CAPTURE(k);
                CHECK(worst_difference(ta, tb, m, n, k, 0.5f, beta, serial, seed++) < 1e-5);
              }
  CHECK(worst_difference(false, true, 1, 7010, 128, 1.0f, 0.0f, true, seed) < 1e-5);
}

TEST_CASE("an empty inner dimension gives beta C") {
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c{2.0f, 3.0f};
  gemm(false, false, 1, 2, 0, 1.0f, a.data(), 1, b.data(), 2, 0.5f, c.data(), 2);
  CHECK(c[0] == 1.0f);
  CHECK(c[1] == 1.5f);
}

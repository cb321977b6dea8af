// LUT kernels (bcq_gemv / bcq_gemm) against dequantize-then-cblas_sgemv and against the plain
// reference loop, odd shapes and groups included. The ISA-specific cases are templates over
// the kernel paths; ctest runs each path as its own test (tests/CMakeLists.txt), and a path
// this CPU lacks says SKIPPED.
#include <doctest/doctest.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/execution_context.h"
#include "core/parallel.h"
#include "core/random.h"
#include "quant/bcq_gemm.h"
#include "quant/bcq_kernel_matrix.h"
#include "quant/bcq_mixed_kernel.h"
#include "quant/bcq_mixed_matrix.h"
#include "quant/bcq_solvers.h"
#include "quant/quant_error.h"

using namespace bcqnmt;

namespace {

template <BcqIsa I>
struct KernelPathOf {
  static constexpr BcqIsa isa = I;
};
using Portable = KernelPathOf<BcqIsa::portable>;
using Avx2 = KernelPathOf<BcqIsa::avx2>;
using Avx512 = KernelPathOf<BcqIsa::avx512>;

bool supported(BcqIsa isa) {
  if (!bcq_isa_supported(isa))
    MESSAGE("SKIPPED: " << bcq_isa_unsupported_reason(isa));
  return bcq_isa_supported(isa);
}

// ||y - y_ref||_2 / || |W| |x| ||_2: rounding is relative to the magnitudes summed, not to
// y_ref, which may cancel to near zero.
double relative_error(const std::vector<float>& y, const std::vector<float>& y_ref, const std::vector<float>& scale) {
  double err = 0.0, norm = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    err += (static_cast<double>(y[i]) - y_ref[i]) * (static_cast<double>(y[i]) - y_ref[i]);
    norm += static_cast<double>(scale[i]) * scale[i];
  }
  return std::sqrt(err / norm);
}

// How far the LUT kernels may be from the exact product y = W x ("Table rounding",
// quant/bcq_gemm.h). Every table entry is rounded to a multiple of its group's step, so it is
// off by at most step_g / 2 (round to nearest). Row r of plane q looks up one entry per chunk
// of 4 columns of group g and scales the sum by alpha_q,r,g, so
//   |y_r - exact_r| <= sum_q sum_g |alpha_q,r,g| x chunks_g x step_g / 2,
// with step_g = (largest sum_j |x_j| over the group's chunks) / kBcqTableLevels. On top of that
// comes fp32 rounding, which the checks below allow for as before (1e-5 of |W| |x|).
// bound [n, rows] (batch row b, output row r), for W = m and x [n, cols].
std::vector<float> table_rounding_bound(const BcqMatrix& m, int64_t n, const float* x) {
  std::vector<float> bound(static_cast<size_t>(n * m.rows), 0.0f);
  const int64_t width = m.group_width();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < m.groups(); ++g) {
      const int64_t c0 = g * width, c1 = std::min(m.cols, c0 + width);
      double largest = 0.0;
      for (int64_t c = c0; c < c1; c += 4) {
        double chunk = 0.0;
        for (int64_t j = c; j < std::min(c1, c + 4); ++j) chunk += std::abs(x[b * m.cols + j]);
        largest = std::max(largest, chunk);
      }
      const double half_steps = (largest / kBcqTableLevels) / 2.0 * static_cast<double>((c1 - c0 + 3) / 4);
      for (int64_t r = 0; r < m.rows; ++r)
        for (int q = 0; q < m.bits; ++q)
          bound[b * m.rows + r] += static_cast<float>(std::abs(m.alpha(q, r, g)) * half_steps);
    }
  return bound;
}

// relative_error of what exceeds the table-rounding bound: zero when y is within it.
double error_beyond_bound(const std::vector<float>& y, const std::vector<float>& y_ref,
                          const std::vector<float>& bound, const std::vector<float>& scale) {
  std::vector<float> excess(y.size());
  for (size_t i = 0; i < y.size(); ++i)
    excess[i] = std::max(0.0f, std::abs(y[i] - y_ref[i]) - bound[i]);
  return relative_error(excess, std::vector<float>(y.size(), 0.0f), scale);
}

struct Case {
  int64_t rows, cols;
  int bits;
  int64_t group_size;
};

const std::vector<Case> gemv_cases{
      {1, 1, 1, 0},     {1, 7, 2, 0},      {3, 65, 3, 0},    {17, 130, 4, 0},   {16, 64, 3, 0},
      {33, 200, 3, 64}, {40, 300, 2, 100}, {64, 512, 4, 128}, {100, 1000, 8, 0}, {129, 257, 5, 36},
      {5, 24, 3, 5},    {512, 128, 1, 0},
      // > 32 blocks of 32 columns: several table spans, and spans that cut a group in two.
      {20, 2100, 3, 0}, {9, 1500, 2, 700}, {31, 3000, 1, 1000}};

// One gemv case: the quantized matrix, its input and bias, y = dequantize(W) x + bias by
// cblas_sgemv, the magnitudes |W| |x| the errors are measured against and the LUT kernels'
// table-rounding bound.
struct GemvCase {
  BcqMatrix m;
  std::vector<float> x, bias, y_blas, scale, bound;
};

GemvCase gemv_case(const Case& k) {
  const auto w = Rng(100 + k.rows).normals(k.rows * k.cols);
  GemvCase g{bcq_quantize(w.data(), k.rows, k.cols, {k.bits, k.group_size, BcqMethod::alternating, 2}),
             Rng(200 + k.cols).normals(k.cols), Rng(300).normals(k.rows), {}, std::vector<float>(k.rows, 0.0f), {}};
  const Tensor d = g.m.dequantize();
  g.y_blas = g.bias;
  cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(k.rows), static_cast<int>(k.cols), 1.0f, d.data(),
              static_cast<int>(k.cols), g.x.data(), 1, 1.0f, g.y_blas.data(), 1);
  for (int64_t r = 0; r < k.rows; ++r)
    for (int64_t c = 0; c < k.cols; ++c) g.scale[r] += std::abs(d.data()[r * k.cols + c] * g.x[c]);
  g.bound = table_rounding_bound(g.m, 1, g.x.data());
  return g;
}

}  // namespace

TYPE_TO_STRING_AS("bcq=portable", Portable);
TYPE_TO_STRING_AS("bcq=avx2", Avx2);
TYPE_TO_STRING_AS("bcq=avx512", Avx512);

TEST_CASE("bcq_gemv_reference and bcq_gemv equal dequantize + cblas_sgemv within the table rounding, odd shapes") {
  for (const Case& k : gemv_cases) {
    INFO(k.rows << " x " << k.cols << ", " << k.bits << " bits, group size " << k.group_size);
    const GemvCase g = gemv_case(k);
    std::vector<float> y_ref(k.rows);
    bcq_gemv_reference(g.m, g.x.data(), y_ref.data(), g.bias.data());
    CHECK(error_beyond_bound(y_ref, g.y_blas, g.bound, g.scale) < 1e-5);
    const BcqKernelMatrix km(g.m);
    std::vector<float> y_default(k.rows), y_nobias(k.rows), y_ref_nobias(k.rows);
    bcq_gemv(km, g.x.data(), y_default.data(), g.bias.data());
    CHECK(error_beyond_bound(y_default, g.y_blas, g.bound, g.scale) < 1e-5);
    bcq_gemv(km, g.x.data(), y_nobias.data());
    bcq_gemv_reference(g.m, g.x.data(), y_ref_nobias.data());
    CHECK(relative_error(y_nobias, y_ref_nobias, g.scale) < 1e-5);  // the same integers, summed in another order
  }
}

TEST_CASE_TEMPLATE("bcq_gemm on one kernel path equals dequantize + cblas_sgemv, odd shapes, groups", Path, Portable,
                   Avx2, Avx512) {
  if (!supported(Path::isa)) return;
  for (const Case& k : gemv_cases) {
    INFO(k.rows << " x " << k.cols << ", " << k.bits << " bits, group size " << k.group_size);
    const GemvCase g = gemv_case(k);
    std::vector<float> y(k.rows, -1.0f), y_portable(k.rows);
    const BcqKernelMatrix km(g.m);
    bcq_gemm(km, 1, g.x.data(), y.data(), g.bias.data(), Path::isa);
    CHECK(error_beyond_bound(y, g.y_blas, g.bound, g.scale) < 1e-5);
    // Every ISA sums the same integer tables exactly and scales them alike.
    bcq_gemm(km, 1, g.x.data(), y_portable.data(), g.bias.data(), BcqIsa::portable);
    CHECK(y == y_portable);
  }
}

TEST_CASE_TEMPLATE("bcq_gemm on one kernel path with batches up to 16 equals row-by-row gemv reference", Path,
                   Portable, Avx2, Avx512) {
  if (!supported(Path::isa)) return;
  const BcqIsa isa = Path::isa;
  const int64_t rows = 70, cols = 136;
  const auto w = Rng(1).normals(rows * cols);
  // Several bit widths (kernels are instantiated per width) and odd batch sizes.
  for (int bits : {1, 3, 5}) {
    const BcqMatrix m = bcq_quantize(w.data(), rows, cols, {bits, 0, BcqMethod::refined_greedy, 0});
    const BcqKernelMatrix km(m);
    for (int64_t n : {1, 2, 3, 4, 5, 8, 16}) {
      const auto x = Rng(50 + n).normals(n * cols);
      std::vector<float> y_ref(n * rows), scale(n * rows, 0.0f);
      bcq_gemm_reference(m, n, x.data(), y_ref.data());
      const Tensor d = m.dequantize();
      for (int64_t b = 0; b < n; ++b)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) scale[b * rows + r] += std::abs(d.data()[r * cols + c] * x[b * cols + c]);
      CAPTURE(bits);
      CAPTURE(n);
      std::vector<float> y(n * rows);
      bcq_gemm(km, n, x.data(), y.data(), nullptr, isa);
      CHECK(relative_error(y, y_ref, scale) < 1e-5);
      // Each batch row alone gives bit-identical results: batching only shares the sign stream.
      for (int64_t b = 0; b < n; ++b) {
        std::vector<float> yb(rows);
        bcq_gemm(km, 1, x.data() + b * cols, yb.data(), nullptr, isa);
        CHECK(std::vector<float>(y.begin() + b * rows, y.begin() + (b + 1) * rows) == yb);
      }
    }
  }
}

namespace {

// Columns [c0, c1) of m as a matrix of their own: the same signs and alphas, in the groups
// of m that the columns lie in (one group when m has one). What bcq_gemm_slice multiplies by.
BcqMatrix column_slice(const BcqMatrix& m, int64_t c0, int64_t c1) {
  const bool one_group = m.groups() == 1;
  BcqMatrix sub(m.rows, c1 - c0, m.bits, one_group ? 0 : m.group_size);
  const int64_t g0 = one_group ? 0 : c0 / m.group_width();
  for (int q = 0; q < m.bits; ++q)
    for (int64_t r = 0; r < m.rows; ++r) {
      for (int64_t g = 0; g < sub.groups(); ++g) sub.alpha(q, r, g) = m.alpha(q, r, g0 + g);
      for (int64_t c = c0; c < c1; ++c)
        if (m.sign_bit(q, r, c)) sub.sign_row(q, r)[(c - c0) / 64] |= uint64_t{1} << ((c - c0) % 64);
    }
  return sub;
}

}  // namespace

TEST_CASE_TEMPLATE("bcq_gemm_slice: whole-row slices give bcq_gemm's bits, a column slice is its sub-matrix's product",
                   Path, Portable, Avx2, Avx512) {
  if (!supported(Path::isa)) return;
  const BcqIsa isa = Path::isa;
  struct SliceCase {
    Case shape;
    std::vector<std::pair<int64_t, int64_t>> columns;  // slices to try
  };
  const std::vector<SliceCase> cases{
      {{128, 1024, 3, 0}, {{0, 128}, {384, 512}, {896, 1024}, {0, 1024}}},   // an attention output's heads
      {{128, 512, 3, 0}, {{0, 256}, {256, 512}}},                            // a feed-forward's halves
      {{48, 2100, 2, 0}, {{992, 1056}, {32, 2100}}},                         // across a table span, to the end
      {{33, 300, 4, 100}, {{0, 100}, {100, 200}, {200, 300}, {100, 300}}},  // whole groups
      {{17, 250, 3, 100}, {{200, 250}}}};                                    // the short last group
  for (const SliceCase& k : cases) {
    const int64_t rows = k.shape.rows, cols = k.shape.cols;
    const auto w = Rng(7 + rows).normals(rows * cols);
    const BcqMatrix m = bcq_quantize(w.data(), rows, cols, {k.shape.bits, k.shape.group_size, BcqMethod::greedy, 0});
    const BcqKernelMatrix km(m);
    const auto bias = Rng(8).normals(rows);
    for (int64_t n : {1, 3}) {
      const auto x = Rng(9 + n).normals(n * cols);
      CAPTURE(rows);
      CAPTURE(cols);
      CAPTURE(n);
      // Rows [16, 48) (or to the end) of the whole row: bcq_gemm's bits, nothing else written.
      std::vector<float> whole(n * rows), y(n * rows, -7.0f);
      bcq_gemm(km, n, x.data(), whole.data(), bias.data(), isa);
      const int64_t r0 = 16, r1 = std::min<int64_t>(48, rows);
      const BcqSliceInput all(km, n, x.data(), cols, 0, cols, isa);
      bcq_gemm_slice(km, all, r0, r1, y.data(), rows, bias.data());
      for (int64_t b = 0; b < n; ++b)
        for (int64_t r = 0; r < rows; ++r)
          CHECK(y[b * rows + r] == (r >= r0 && r < r1 ? whole[b * rows + r] : -7.0f));
      for (const auto& [c0, c1] : k.columns) {
        CAPTURE(c0);
        CAPTURE(c1);
        REQUIRE(bcq_slice_supported(km, c0, c1));
        const BcqMatrix sub = column_slice(m, c0, c1);
        std::vector<float> x_sub, want(n * rows), got(n * rows), portable(n * rows), scale(n * rows, 0.0f);
        for (int64_t b = 0; b < n; ++b) x_sub.insert(x_sub.end(), x.begin() + b * cols + c0, x.begin() + b * cols + c1);
        bcq_gemm_reference(sub, n, x_sub.data(), want.data());
        const Tensor d = sub.dequantize();
        for (int64_t b = 0; b < n; ++b)
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < c1 - c0; ++c)
              scale[b * rows + r] += std::abs(d.data()[r * (c1 - c0) + c] * x_sub[b * (c1 - c0) + c]);
        const BcqSliceInput slice(km, n, x.data() + c0, cols, c0, c1, isa);
        bcq_gemm_slice(km, slice, 0, rows, got.data(), rows);
        CHECK(relative_error(got, want, scale) < 1e-5);  // the same integers, summed in another order
        const BcqSliceInput portable_slice(km, n, x.data() + c0, cols, c0, c1, BcqIsa::portable);
        bcq_gemm_slice(km, portable_slice, 0, rows, portable.data(), rows);
        CHECK(got == portable);
      }
    }
  }
}

TEST_CASE("bcq_gemm_slice refuses slices off the layout, rows off the tiles and inputs of another layout") {
  const auto w = Rng(3).normals(40 * 300);
  const BcqMatrix grouped = bcq_quantize(w.data(), 40, 300, {2, 100, BcqMethod::greedy, 0});
  const BcqMatrix whole_rows = bcq_quantize(w.data(), 40, 300, {2, 0, BcqMethod::greedy, 0});
  const BcqKernelMatrix kg(grouped), kw(whole_rows);
  const auto x = Rng(4).normals(300);
  CHECK_FALSE(bcq_slice_supported(kg, 0, 64));    // inside a group of several
  CHECK(bcq_slice_supported(kw, 0, 64));          // inside the one group, on a block boundary
  CHECK_FALSE(bcq_slice_supported(kw, 0, 70));    // not on a block boundary
  CHECK_FALSE(bcq_slice_supported(kw, 64, 64));   // empty
  CHECK_FALSE(bcq_slice_supported(kw, 64, 301));  // past the end
  CHECK_THROWS_WITH_AS(BcqSliceInput(kg, 1, x.data(), 300, 0, 64), doctest::Contains("are not a slice"), QuantError);
  CHECK_THROWS_WITH_AS(BcqSliceInput(kw, kBcqDequantizeFromRows, x.data(), 300, 0, 300),
                       doctest::Contains("lookup-table kernels"), QuantError);
  const BcqSliceInput input(kw, 1, x.data(), 300, 0, 300);
  std::vector<float> y(40);
  CHECK_THROWS_WITH_AS(bcq_gemm_slice(kw, input, 8, 24, y.data(), 40), doctest::Contains("16-row tile"), QuantError);
  CHECK_NOTHROW(bcq_gemm_slice(kw, input, 32, 40, y.data(), 40));  // to the last row
  const auto w2 = Rng(5).normals(40 * 200);
  const BcqKernelMatrix narrower(bcq_quantize(w2.data(), 40, 200, {2, 0, BcqMethod::greedy, 0}));
  CHECK_FALSE(input.fits(narrower));
  CHECK_THROWS_WITH_AS(bcq_gemm_slice(narrower, input, 0, 40, y.data(), 40), doctest::Contains("prepared for 300"),
                       QuantError);
}

TEST_CASE_TEMPLATE("bcq_gemm with large batches (dequantize + sgemm) equals the reference, odd shapes, groups", Path,
                   Portable, Avx2, Avx512) {
  if (!supported(Path::isa)) return;
  for (const Case& k : {Case{70, 136, 3, 0}, Case{129, 257, 5, 36}, Case{40, 300, 2, 100}, Case{17, 2100, 1, 0}}) {
    const auto w = Rng(7 + k.rows).normals(k.rows * k.cols);
    const BcqMatrix m = bcq_quantize(w.data(), k.rows, k.cols, {k.bits, k.group_size, BcqMethod::alternating, 2});
    const BcqKernelMatrix km(m);
    const Tensor d = m.dequantize();
    for (int64_t n : {kBcqDequantizeFromRows, kBcqDequantizeFromRows + 37}) {
      INFO(k.rows << " x " << k.cols << ", " << k.bits << " bits, group size " << k.group_size << ", " << n << " rows");
      const auto x = Rng(60 + n).normals(n * k.cols);
      const auto bias = Rng(61).normals(k.rows);
      std::vector<float> y_ref(n * k.rows), y(n * k.rows, -1.0f), scale(n * k.rows, 0.0f);
      bcq_gemm_reference(m, n, x.data(), y_ref.data(), bias.data());
      for (int64_t b = 0; b < n; ++b)
        for (int64_t r = 0; r < k.rows; ++r) {
          scale[b * k.rows + r] = std::abs(bias[r]);
          for (int64_t c = 0; c < k.cols; ++c)
            scale[b * k.rows + r] += std::abs(d.data()[r * k.cols + c] * x[b * k.cols + c]);
        }
      bcq_gemm(km, n, x.data(), y.data(), bias.data(), Path::isa);
      // Dequantized weights multiply x exactly; the reference rounds its tables.
      CHECK(error_beyond_bound(y, y_ref, table_rounding_bound(m, n, x.data()), scale) < 1e-5);
      // Every ISA dequantizes to the same weights, so all give the portable path's bits.
      std::vector<float> y_portable(n * k.rows);
      bcq_gemm(km, n, x.data(), y_portable.data(), bias.data(), BcqIsa::portable);
      CHECK(y == y_portable);
    }
  }
}

TEST_CASE_TEMPLATE("a matrix with no columns gives the bias at every batch size", Path, Portable, Avx2, Avx512) {
  // The dequantizing path (64 rows and more) divided by the zero padded width: SIGFPE before.
  if (!supported(Path::isa)) return;
  const BcqMatrix m = bcq_quantize(nullptr, 10, 0, {3, 0, BcqMethod::greedy, 0});
  const BcqKernelMatrix km(m);
  const auto bias = Rng(8).normals(10);
  for (int64_t n : {int64_t{1}, int64_t{63}, kBcqDequantizeFromRows, kBcqDequantizeFromRows + 1}) {
    CAPTURE(n);
    std::vector<float> y(static_cast<size_t>(n * 10), -1.0f), y_ref(y);
    bcq_gemm(km, n, nullptr, y.data(), bias.data(), Path::isa);
    bcq_gemm_reference(m, n, nullptr, y_ref.data(), bias.data());
    CHECK(y == y_ref);
    CHECK(std::equal(y.begin(), y.begin() + 10, bias.begin()));
  }
}

TEST_CASE("large shapes run in parallel and are bit-identical for 1 and 2 threads") {
  const int64_t rows = 1000, cols = 2048;
  const auto w = Rng(9).normals(rows * cols);
  const BcqKernelMatrix km(bcq_quantize(w.data(), rows, cols, {3, 0, BcqMethod::greedy, 0}));
  for (int64_t n : {int64_t{4}, kBcqDequantizeFromRows}) {  // the LUT kernels, then dequantize + sgemm
    const auto x = Rng(10).normals(n * cols);
    std::vector<float> y1(n * rows), y2(n * rows);
    set_num_threads(1);
    bcq_gemm(km, n, x.data(), y1.data());
    set_num_threads(2);
    bcq_gemm(km, n, x.data(), y2.data());
    CHECK(y1 == y2);
  }
}

TEST_CASE("kernel layout: sign words and alphas land where the kernels read them") {
  // 2 tiles, groups of 40 -> 2 blocks per group; 90 columns are 6 blocks (one span), 1,100
  // columns 56 blocks (a span of 32 and a shorter one of 24).
  for (const int64_t cols : {int64_t{90}, int64_t{1100}}) {
    CAPTURE(cols);
    const int64_t rows = 18, groups = (cols + 39) / 40, blocks = 2 * groups;
    const auto w = Rng(4).normals(rows * cols);
    const BcqMatrix m = bcq_quantize(w.data(), rows, cols, {2, 40, BcqMethod::greedy, 0});
    const BcqKernelMatrix km(m);
    REQUIRE(km.tiles == 2);
    REQUIRE(km.groups == groups);
    REQUIRE(km.blocks_per_group == 2);
    REQUIRE(km.spans() == (blocks + 31) / 32);
    CHECK(reinterpret_cast<uintptr_t>(km.signs.data()) % 64 == 0);  // the kernels' aligned loads
    for (int64_t r = 0; r < rows; ++r)
      for (int q = 0; q < 2; ++q)
        for (int64_t c = 0; c < cols; ++c) {
          const int64_t g = c / 40, in_group = c % 40;
          const int64_t block = g * 2 + in_group / 32;
          // [spans][tiles][blocks of the span][Q][16], every span but the last 32 blocks wide.
          const int64_t span = block / 32, span_blocks = std::min<int64_t>(32, blocks - 32 * span);
          const int64_t index = (span * 32 * km.tiles + (r / 16) * span_blocks + block % 32) * 2 * 16 + q * 16 + r % 16;
          const uint32_t word = km.signs[static_cast<size_t>(index)];
          CHECK(((word >> (in_group % 32)) & 1) == m.sign_bit(q, r, c));
          CHECK(km.tile_alphas(r / 16)[(g * 2 + q) * 16 + r % 16] == m.alpha(q, r, g));
        }
  }
}

TEST_CASE("mixed per-row bits: bcq_gemm over pieces equals dequantize + cblas_sgemv") {
  const int64_t rows = 45, cols = 72, n = 3;
  const auto w = Rng(21).normals(rows * cols);
  const auto x = Rng(22).normals(n * cols);
  const auto bias = Rng(23).normals(rows);
  std::vector<int> row_bits(rows);
  for (int64_t r = 0; r < rows; ++r) row_bits[r] = 1 + static_cast<int>((r * 5) % 4);
  for (const auto& bits : {row_bits, std::vector<int>(rows, 3)}) {  // four pieces; one identity piece
    const BcqMixedMatrix m = bcq_quantize_mixed(w.data(), rows, cols, bits, {0, 0, BcqMethod::alternating, 2});
    const BcqMixedKernelMatrix km(m);
    CHECK(km.identity == (m.pieces.size() == 1));
    const Tensor d = m.dequantize();
    std::vector<float> y(n * rows), y_blas(n * rows), scale(n * rows, 0.0f), bound(n * rows);
    bcq_gemm(km, n, x.data(), y.data(), bias.data());
    for (size_t p = 0; p < m.pieces.size(); ++p) {  // each piece's bound, at its rows
      const std::vector<float> piece_bound = table_rounding_bound(m.pieces[p], n, x.data());
      for (int64_t b = 0; b < n; ++b)
        for (int64_t r = 0; r < rows; ++r)
          if (m.piece_of_row[r] == static_cast<int32_t>(p))
            bound[b * rows + r] = piece_bound[b * m.pieces[p].rows + m.row_in_piece[r]];
    }
    for (int64_t b = 0; b < n; ++b) {
      std::copy(bias.begin(), bias.end(), y_blas.begin() + b * rows);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, d.data(),
                  static_cast<int>(cols), x.data() + b * cols, 1, 1.0f, y_blas.data() + b * rows, 1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) scale[b * rows + r] += std::abs(d.data()[r * cols + c] * x[b * cols + c]);
    }
    CHECK(error_beyond_bound(y, y_blas, bound, scale) < 1e-5);
  }
}

// The dispatch convention (core/README.md): on the reference kernel path bcq_gemm is the
// plain loop, read from the kernels' own tiled layout, and gives exactly what the loop on the
// canonical layout gives; on the fast path it is the LUT kernel.
TEST_CASE("bcq_gemm follows the kernel path: the reference path is the plain loop, bit for bit") {
  for (const Case& k : gemv_cases) {
    INFO(k.rows << " x " << k.cols << ", " << k.bits << " bits, group size " << k.group_size);
    const GemvCase g = gemv_case(k);
    const BcqKernelMatrix km(g.m);
    const int64_t n = 3;
    std::vector<float> x(static_cast<size_t>(n * k.cols));
    for (int64_t b = 0; b < n; ++b) std::copy(g.x.begin(), g.x.end(), x.begin() + b * k.cols);
    std::vector<float> plain(n * k.rows), reference(n * k.rows, -1.0f), fast(n * k.rows, -1.0f);
    bcq_gemm_reference(g.m, n, x.data(), plain.data(), g.bias.data());
    {
      const KernelPathScope path(KernelPath::reference);
      bcq_gemm(km, n, x.data(), reference.data(), g.bias.data());
    }
    bcq_gemm(km, n, x.data(), fast.data(), g.bias.data());
    CHECK(reference == plain);
    std::vector<float> fast_isa(n * k.rows);
    bcq_gemm(km, n, x.data(), fast_isa.data(), g.bias.data(), bcq_best_isa());
    CHECK(fast == fast_isa);
  }
}

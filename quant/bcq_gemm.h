#pragma once
// Quantized matrix products that, for the small batches of decoding, never dequantize
// (BiQGEMM, Jeon et al. SC 2020; LUT-GEMM, Park et al. 2022):
//   y = W x = sum_q alphas_q (.) (B_q x),  W [rows, cols] in BCQ form.
// x is cut into chunks of 4 activations; for each chunk the 16 signed sums
// +-x0 +-x1 +-x2 +-x3 are tabulated once per call (shared by every row and bit plane), and
// each nibble of a packed sign row then replaces 4 multiply-adds by one table lookup-add.
// AVX-512 looks up 16 rows' two nibbles at once with one vpermw (32 int16 entries are one
// register); AVX2 uses two 8-entry permutes and a blend; the portable path merges two nibble
// tables into a 256-entry table per byte (one scalar lookup per byte).
//
// Table rounding: the tables hold integers, as T-MAC's do (Wei et al., EuroSys 2025; int8
// there). Within each group of W's columns, entries are
// divided by step = (largest |entry| of the group) / kBcqTableLevels and rounded to the
// nearest integer, so every lookup-add is an exact integer add, 32 lanes of int16 per
// AVX-512 instruction instead of 16 fp32 lanes. Each entry is off by at most step / 2, so an
// output y_r moves by at most sum over planes q and groups g of
//   |alpha_q,r,g| x (chunks of 4 columns in g) x step_g / 2
// from the exact product (tests/test_quant_kernels.cpp checks this bound); with
// kBcqTableLevels = 8191 that is about 6e-5 x the group's largest chunk per lookup. The
// integers are the same on every CPU, and every ISA turns them into floats with the same
// operations, so all give bit-identical outputs.
//
// Dispatch (the convention of core/README.md, "Fast and reference paths"): bcq_gemm and
// bcq_gemv run bcq_gemm_reference on the reference kernel path (core/execution_context.h),
// else the fast kernel for the best ISA of this CPU, picked once at run time
// (__builtin_cpu_supports), so the default build runs on any x86-64. Rows are split over the thread team (core/parallel.h) in whole tiles when a call has
// enough work; every output is
// computed by one thread in a fixed order, so results do not depend on the thread count.
//
// Large batches dequantize instead: from kBcqDequantizeFromRows rows of X on, panels of W
// are dequantized into fp32 (a few hundred KB at a time; the model stays packed) and
// multiplied with sgemm. A lookup costs the same for every row of X, while a dense GEMM
// reuses each weight across rows, so it wins once a batch is large (the table at
// kBcqDequantizeFromRows). Every ISA dequantizes to bit-identical weights.
#include <cstdint>
#include <memory>
#include <string>

#include "quant/bcq_kernel_matrix.h"
#include "quant/bcq_matrix.h"

namespace bcqnmt {

// avx512 is AVX512F + AVX512BW + AVX512-VNNI (the kernel's vpdpwssd); a CPU with AVX-512 but
// without VNNI (Skylake-SP) takes avx2.
enum class BcqIsa { portable, avx2, avx512 };

// The first batch size (rows of X) that takes the dequantize + sgemm path. Time of the LUT
// kernels and of that path over cblas_sgemm's, 3 bits, 1 thread, cache-resident, on the
// model's shapes (7010x128, 1024x128, 128x1024, 512x128, 128x512; Zen 4):
//   rows         32          64          128         256
//   LUT        0.72-1.15   0.98-1.32   1.16-1.41   1.35-1.48
//   dequant    1.20-1.28   1.12-1.18   0.99-1.18   0.96-1.16
// Translation stays on the LUT kernels (apps/translator.h decodes 4 hypotheses at a time on
// packed weights, which measured faster than 64 or 256 rows through this path); callers that
// pass larger batches take it.
constexpr int64_t kBcqDequantizeFromRows = 64;

// The largest table entry, in steps (see "Table rounding"): four entries are summed in int16
// lanes before they are widened, and 4 x 8191 fits int16.
constexpr int kBcqTableLevels = 8191;

bool bcq_isa_supported(BcqIsa isa);  // by this CPU
BcqIsa bcq_best_isa();
std::string bcq_isa_name(BcqIsa isa);
// "the avx2 path needs AVX2 and FMA, which this CPU lacks": for errors and skipped tests.
std::string bcq_isa_unsupported_reason(BcqIsa isa);

// y [rows] = W x (+ bias [rows] when not null); x [cols].
void bcq_gemv(const BcqKernelMatrix& w, const float* x, float* y, const float* bias = nullptr);
// Y [n, rows] = X [n, cols] W^T (+ bias). Below kBcqDequantizeFromRows the sign stream is
// read from memory once and reused from cache for every row of X, and each row's output is
// bit-identical to bcq_gemv's.
void bcq_gemm(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias = nullptr);
// The fast kernel for a chosen ISA, whatever the kernel path (tests compare every supported
// one); QuantError if unsupported.
void bcq_gemm(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias, BcqIsa isa);

// ---- Slices of a product, on the calling thread -----------------------------------------
// For a layer that splits a decoding step's products by attention head and runs each head's
// share of several products as one task (nn/multi_head_attention.cpp): rows [r0, r1) of
// X W^T, or the part of X W^T that columns [c0, c1) of W contribute.
//
// A column slice is tabulated on its own: each table step comes from the slice's part of its
// group. So a slice is exactly the LUT product of the sub-matrix W[:, c0:c1] (with the whole
// row as one group when W has one group; bcq_gemm_reference on that sub-matrix gives the same
// integers), and the sum of a row's slices differs from the whole product by the table
// rounding only ("Table rounding"). Rows of the whole row (c0 = 0, c1 = cols) are
// bit-identical to bcq_gemm's.
//
// A slice starts and ends at 0, cols or a group boundary; inside a matrix of one group
// (group_size 0: one alpha set per row) also at any multiple of 32 columns.
bool bcq_slice_supported(const BcqKernelMatrix& w, int64_t c0, int64_t c1);
// Whether bcq_gemm_slice takes output rows [r0, r1) of w: whole 16-row tiles, r1 may be rows.
bool bcq_slice_rows_supported(const BcqKernelMatrix& w, int64_t r0, int64_t r1);
// Whether n rows of X take the lookup-table kernels (1 to kBcqDequantizeFromRows - 1), the
// batch sizes a BcqSliceInput is made for.
inline bool bcq_lookup_batch(int64_t n) { return n > 0 && n < kBcqDequantizeFromRows; }

// The tables of columns [c0, c1) of X [n, ldx] (x points at column c0 of row 0) for the
// matrices of w's column layout (cols and group width): Q, K and V of one input share them.
// 0 < n < kBcqDequantizeFromRows. QuantError for a slice bcq_slice_supported refuses, any other
// n, or an ISA this CPU lacks. Used and destroyed on the thread that made it (its buffers are
// that thread's).
class BcqSliceInput {
 public:
  BcqSliceInput(const BcqKernelMatrix& w, int64_t n, const float* x, int64_t ldx, int64_t c0, int64_t c1,
                BcqIsa isa = bcq_best_isa());
  ~BcqSliceInput();
  BcqSliceInput(const BcqSliceInput&) = delete;
  BcqSliceInput& operator=(const BcqSliceInput&) = delete;
  bool fits(const BcqKernelMatrix& w) const { return w.cols == cols_ && w.group_width == group_width_; }

 private:
  friend void bcq_gemm_slice(const BcqKernelMatrix&, const BcqSliceInput&, int64_t, int64_t, float*, int64_t,
                             const float*);
  struct Tables;
  int64_t cols_, group_width_, n_, c0_, c1_;
  std::unique_ptr<Tables> tables_;
};

// Y[b, r] (row stride ldy) = sum over the input's columns c of X[b, c] W[r, c] (+ bias[r]
// when not null), for r in [r0, r1); other entries of Y are untouched. r0 and r1 are multiples
// of 16 (r1 may be rows). QuantError for other rows or an input that does not fit w.
void bcq_gemm_slice(const BcqKernelMatrix& w, const BcqSliceInput& x, int64_t r0, int64_t r1, float* y, int64_t ldy,
                    const float* bias = nullptr);

// Plain references: a loop over rows, bits, groups and columns, on the canonical layout or
// on the kernels' tiled one (the same loop, so both give bit-identical results).
void bcq_gemv_reference(const BcqMatrix& w, const float* x, float* y, const float* bias = nullptr);
void bcq_gemm_reference(const BcqMatrix& w, int64_t n, const float* x, float* y, const float* bias = nullptr);
void bcq_gemm_reference(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias = nullptr);

}  // namespace bcqnmt

#include "quant/bcq_gemm.h"

#include <emmintrin.h>  // SSE2, part of x86-64: the table rounding below, the same on every CPU

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/execution_context.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "quant/bcq_gemm_tiles.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

constexpr int64_t kTile = BcqKernelMatrix::kTileRows;
constexpr int64_t kBlockCols = BcqKernelMatrix::kBlockCols;
// What one (16-row tile, 32-column block, bit plane, activation row) costs the AVX-512 kernel
// cache-resident on the 2.6 GHz Zen 4: 4.4 ns with fp32 tables (bench_bcq_gemv, 128 columns),
// times 0.68 for the integer tables (0.65 vs 0.96 ns per 16 x 8 x 1 lookup, stand-alone copies
// of both loops). It turns the work of a call into time for the threading rule of
// core/parallel.h.
constexpr double kNsPerBlockLookup = 3.0;
// Signs are prefetched this far ahead of the kernel, in the order a task reads them, into L2
// (_MM_HINT_T1). One core's hardware prefetch does not keep the kernel fed from DRAM; with
// the next tile's line into L1 instead, 4096 x 4096 at 3 bits streamed took 700-760 us, with
// 4 KB ahead into L2 455-465 us (a stand-alone copy of the AVX-512 loop, Zen 4, load ~4).
constexpr int64_t kPrefetchBytes = 4096;
constexpr int64_t kSignWordBytes = sizeof(uint32_t);

// A panel of dequantized rows, sized to stay in L2 while sgemm streams X past it.
constexpr int64_t kPanelBytes = 256 * 1024;
// What one multiply-add of the large-batch path costs, for the threading rule: sgemm at
// ~45 GMAC/s on one Zen 4 core (256 x 128 x 7010 in 5.0 ms).
constexpr double kNsPerMac = 0.022;

// Buffers of one thread's bcq_gemm calls, kept from call to call: a batch-1 decoding step
// makes 33 products of 2-30 us, and allocating and freeing their five vectors each time was
// ~3% of the step (perf). Each call resizes what it uses; nothing is read before written
// except `tile_out`, which is zero-filled. `padded_x` and `tile_out` are filled and read with
// no other bcq_gemm call in between; the tables live through a whole call, so a call nested
// in one on the same thread gets its own (ActivationTables).
struct GemmScratch {
  std::vector<float> padded_x;     // integer_tables' x in the padded column space
  std::vector<int16_t> table_shorts;
  std::vector<float> table_steps;
  std::vector<int32_t> table_ints;
  std::vector<float> tile_out;     // a task's outputs, [tiles, n, 16]
  bool tables_in_use = false;      // by an ActivationTables of a call on this thread
};

GemmScratch& scratch() {
  thread_local GemmScratch buffers;
  return buffers;
}

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

// The blocks [first, end) of the padded column space that hold columns [c0, c1), a slice
// bcq_slice_supported accepts (the whole row in a bcq_gemm).
std::pair<int64_t, int64_t> slice_blocks(const BcqKernelMatrix& w, int64_t c0, int64_t c1) {
  const int64_t first = c0 / w.group_width * w.blocks_per_group + c0 % w.group_width / kBlockCols;
  if (c1 == w.cols) return {first, w.blocks()};
  return {first, (c1 - 1) / w.group_width * w.blocks_per_group + (c1 - 1) % w.group_width / kBlockCols + 1};
}

// Columns [c0, c1) of x laid out in the padded column space: each group starts on a block
// boundary; the rest of the slice's blocks is zero. x points at column c0. xp [padded_cols],
// of which the slice's blocks are written.
void padded_activations(const BcqKernelMatrix& w, const float* x, int64_t c0, int64_t c1, float* xp) {
  const auto [first_block, end_block] = slice_blocks(w, c0, c1);
  std::fill(xp + first_block * kBlockCols, xp + end_block * kBlockCols, 0.0f);
  const int64_t group_stride = w.blocks_per_group * kBlockCols;
  for (int64_t g = c0 / w.group_width; g * w.group_width < c1; ++g) {
    const int64_t g0 = std::max(c0, g * w.group_width), g1 = std::min({c1, (g + 1) * w.group_width, w.cols});
    std::copy(x + (g0 - c0), x + (g1 - c0), xp + g * group_stride + (g0 - g * w.group_width));
  }
}

// The largest |entry| of a chunk's table, sum_j |x_j|, summed in the order the entries are
// (integer_tables). Rounding is monotonic, so no entry exceeds it.
float chunk_magnitude(const float* v) { return ((std::abs(v[0]) + std::abs(v[1])) + std::abs(v[2])) + std::abs(v[3]); }

// A group's table step (the value of one table unit) and its inverse, from its chunks' largest
// magnitude: entries become integers in [-kBcqTableLevels, kBcqTableLevels].
struct TableScale {
  float step;
  float inverse;
};
TableScale table_scale(float largest) {
  return {largest / static_cast<float>(kBcqTableLevels),
          largest > 0.0f ? static_cast<float>(kBcqTableLevels) / largest : 0.0f};
}

// Where the 16 entries of nibble n (columns 4n..4n+3) of block b start in integer_tables' layout.
int64_t nibble_offset(int64_t b, int n) { return b * 128 + (n % 4) * 32 + (n / 4) * 16; }

// The largest chunk_magnitude of nibbles [k0, k1) of xp: a group's table step comes from it.
// Written with SSE2 intrinsics (with tabulate_sse) so that every CPU and build computes the
// same integers; the AVX-512 versions (bcq_largest_chunk_avx512, bcq_tabulate_avx512) do the
// same operations 16 lanes at a time (for finite activations: with a NaN among them the two
// may pick different steps, and neither output means anything).
float largest_chunk_sse(const float* xp, int64_t k0, int64_t k1) {
  float largest = 0.0f;
  for (int64_t k = k0; k < k1; ++k) largest = std::max(largest, chunk_magnitude(xp + 4 * k));
  return largest;
}

// The tables of nibbles [k0, k1) of xp (nibble k: columns 4k..4k+3 of the padded space) in
// the AVX-512 layout, entry i of nibble k = round(sum_j (bit j of i ? +x : -x)[4k + j] x
// inverse): the entries are summed in one fixed order ((x0 +- x1) +- x2) +- x3 and rounded to
// nearest even by cvtps2dq, with no compiler freedom to fuse the multiply into anything.
void tabulate_sse(const float* xp, int64_t k0, int64_t k1, float inverse_step, int16_t* tables) {
  const __m128 minus = _mm_set1_ps(-0.0f);
  // Sign flips of entries 4m + r (r = 0..3): bit 0 and bit 1 of r pick +-x0 and +-x1.
  const __m128 flip0 = _mm_castsi128_ps(_mm_setr_epi32(INT32_MIN, 0, INT32_MIN, 0));
  const __m128 flip1 = _mm_castsi128_ps(_mm_setr_epi32(INT32_MIN, INT32_MIN, 0, 0));
  const __m128 inverse = _mm_set1_ps(inverse_step);
  for (int64_t k = k0; k < k1; ++k) {
    const float* v = xp + 4 * k;
    const __m128 pair = _mm_add_ps(_mm_xor_ps(_mm_set1_ps(v[0]), flip0), _mm_xor_ps(_mm_set1_ps(v[1]), flip1));
    __m128i rounded[4];
    for (int m = 0; m < 4; ++m) {  // entries 4m .. 4m + 3: bits 2 and 3 of the entry are those of m
      const __m128 x2 = _mm_set1_ps(v[2]), x3 = _mm_set1_ps(v[3]);
      const __m128 e = _mm_add_ps(_mm_add_ps(pair, (m & 1) ? x2 : _mm_xor_ps(x2, minus)),
                                  (m & 2) ? x3 : _mm_xor_ps(x3, minus));
      rounded[m] = _mm_cvtps_epi32(_mm_mul_ps(e, inverse));
    }
    int16_t* t = tables + nibble_offset(k / 8, static_cast<int>(k % 8));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t), _mm_packs_epi32(rounded[0], rounded[1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 8), _mm_packs_epi32(rounded[2], rounded[3]));
  }
}

// How an ISA builds the integer tables: the same integers on every one.
struct TableBuilder {
  float (*largest_chunk)(const float* xp, int64_t k0, int64_t k1);
  void (*tabulate)(const float* xp, int64_t k0, int64_t k1, float inverse_step, int16_t* tables);
};

// The integer tables of columns [c0, c1) of x ("Table rounding", quant/bcq_gemm.h), in the
// AVX-512 layout that the other layouts are widened from: tables [blocks][4][32] int16, row k
// of a block holding the table of its nibble k (entries 0-15) and of its nibble k + 4
// (16-31); entry i of nibble n (columns 4n..4n+3 of the block) is
// round(sum_j (bit j of i ? +x : -x)[4n + j] / step). Only the blocks of the slice are
// written. steps [groups]: step = largest / kBcqTableLevels, largest the largest |entry| of
// the group's part of the slice (the whole group for a whole product); only the slice's
// groups are written. x points at column c0 (bcq_slice_supported says which slices there are).
void integer_tables(const BcqKernelMatrix& w, const float* x, int64_t c0, int64_t c1, const TableBuilder& builder,
                    int16_t* tables, float* steps) {
  float* xp = sized(scratch().padded_x, w.padded_cols());
  padded_activations(w, x, c0, c1, xp);
  const auto [first_block, end_block] = slice_blocks(w, c0, c1);
  for (int64_t g = first_block / w.blocks_per_group; g * w.blocks_per_group < end_block; ++g) {
    // The group's nibbles in the slice: 8 per block.
    const int64_t k0 = std::max(first_block, g * w.blocks_per_group) * 8;
    const int64_t k1 = std::min(end_block, (g + 1) * w.blocks_per_group) * 8;
    const TableScale scale = table_scale(builder.largest_chunk(xp, k0, k1));
    steps[g] = scale.step;
    builder.tabulate(xp, k0, k1, scale.inverse, tables);
  }
}

// AVX2 layout: int32 [blocks * 8][16], nibbles in column order; blocks [b0, b1) are written.
void widen_tables_avx2(const int16_t* tables, int64_t b0, int64_t b1, int32_t* out) {
  for (int64_t b = b0; b < b1; ++b)
    for (int n = 0; n < 8; ++n) std::copy_n(tables + nibble_offset(b, n), 16, out + (b * 8 + n) * 16);
}

// Portable layout: int32 byte tables [blocks * 4][256], one per 8 columns, table[v] =
// nibble_lo[v & 15] + nibble_hi[v >> 4]: one scalar lookup per byte of a sign word; blocks
// [b0, b1) are written.
void widen_tables_portable(const int16_t* tables, int64_t b0, int64_t b1, int32_t* out) {
  for (int64_t b = b0; b < b1; ++b)
    for (int j = 0; j < 4; ++j) {
      const int16_t* lo = tables + nibble_offset(b, 2 * j);
      const int16_t* hi = tables + nibble_offset(b, 2 * j + 1);
      int32_t* t = out + (b * 4 + j) * 256;
      for (int v = 0; v < 256; ++v) t[v] = lo[v & 15] + hi[v >> 4];
    }
}

// y = W x (+ bias) as a plain loop, for any layout with sign_bit(q, r, c) and alpha(q, r, g),
// with the LUT kernels' table rounding spelled out: per group g, each chunk of 4 columns adds
// round(entry / step_g), entry = the chunk's signed sum in integer_tables' order, and the
// integer sum is scaled by alpha * step_g. So it computes the kernels' integers exactly and
// differs from them only in the order of the final float adds. (ggml's reference dot
// products round activations the way its SIMD ones do, for the same reason.)
template <class Matrix>
void reference_product(const Matrix& w, int64_t group_width, int64_t groups, int64_t n, const float* x, float* y,
                       const float* bias) {
  std::vector<TableScale> scales(static_cast<size_t>(groups));
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * w.cols;
    // Column c of the group starting at c0, zero past its end (the kernels' zero padding).
    auto column = [&](int64_t c, int64_t end) { return c < end ? xb[c] : 0.0f; };
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t c0 = g * group_width, c1 = std::min(w.cols, c0 + group_width);
      float largest = 0.0f;
      for (int64_t c = c0; c < c1; c += 4) {
        const float v[4] = {column(c, c1), column(c + 1, c1), column(c + 2, c1), column(c + 3, c1)};
        largest = std::max(largest, chunk_magnitude(v));
      }
      scales[static_cast<size_t>(g)] = table_scale(largest);
    }
    for (int64_t r = 0; r < w.rows; ++r) {
      float acc = bias ? bias[r] : 0.0f;
      for (int q = 0; q < w.bits; ++q) {
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t c0 = g * group_width, c1 = std::min(w.cols, c0 + group_width);
          const TableScale scale = scales[static_cast<size_t>(g)];
          int64_t sum = 0;
          for (int64_t c = c0; c < c1; c += 4) {
            float entry = 0.0f;
            for (int64_t j = 0; j < 4; ++j) {
              const float v = column(c + j, c1);
              const float signed_v = c + j < c1 && w.sign_bit(q, r, c + j) ? v : -v;
              entry = j == 0 ? signed_v : entry + signed_v;
            }
            sum += static_cast<int64_t>(std::nearbyint(entry * scale.inverse));
          }
          acc += w.alpha(q, r, g) * (static_cast<float>(sum) * scale.step);
        }
      }
      y[b * w.rows + r] = acc;
    }
  }
}

void tile_portable(const BcqTileArgs& a) {
  const int q_bits = a.bits;
  const int32_t* tables = static_cast<const int32_t*>(a.tables);
  int32_t acc[8][kTile];
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t b1 = std::min((g + 1) * a.blocks_per_group, a.block_end);
    for (int q = 0; q < q_bits; ++q) std::fill(acc[q], acc[q] + kTile, 0);
    for (int64_t b = b0; b < b1; ++b) {
      const uint32_t* s = a.signs + (b - a.block_begin) * q_bits * kTile;
      for (int j = 0; j < 4; ++j) {  // byte j of a word: columns 8j .. 8j + 7 of the block
        const int32_t* table = tables + 256 * (4 * b + j);
        for (int q = 0; q < q_bits; ++q)
          for (int64_t i = 0; i < kTile; ++i) acc[q][i] += table[(s[q * kTile + i] >> (8 * j)) & 0xFFu];
      }
    }
    const float* alpha = a.alphas + g * q_bits * kTile;
    for (int q = 0; q < q_bits; ++q)
      for (int64_t i = 0; i < kTile; ++i)
        a.out[i] = std::fma(alpha[q * kTile + i], static_cast<float>(acc[q][i]) * a.table_steps[g], a.out[i]);
    b0 = b1;
  }
}

void dequantize_tile_portable(const BcqDequantizeArgs& a) {
  for (int64_t i = 0; i < kTile; ++i)
    for (int64_t b = a.block_begin; b < a.block_end; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * kTile + i;
      for (int64_t k = 0; k < kBlockCols; ++k) {
        float v = 0.0f;
        for (int q = 0; q < a.bits; ++q) {
          const bool plus = (a.signs[((b - a.block_begin) * a.bits + q) * kTile + i] >> k) & 1u;
          v += plus ? alpha[q * kTile] : -alpha[q * kTile];
        }
        a.w[i * a.ld + b * kBlockCols + k] = v;
      }
    }
}

// The kernels of one ISA: the one place that maps a BcqIsa to its functions and table layout.
struct IsaKernels {
  void (*tile)(const BcqTileArgs&);
  void (*dequantize)(const BcqDequantizeArgs&);
  // Widens integer_tables' int16 layout into the ISA's int32 one (null: the kernel reads it
  // as it is), of table_ints_per_block int32 per 32-column block; blocks [b0, b1) of them.
  void (*widen_tables)(const int16_t* tables, int64_t b0, int64_t b1, int32_t* out);
  int64_t table_ints_per_block;
  TableBuilder tables;
};

IsaKernels kernels_for(BcqIsa isa) {
  switch (isa) {
    case BcqIsa::avx512:
      return {bcq_tile_avx512, bcq_dequantize_tile_avx512, nullptr, 0,
              {bcq_largest_chunk_avx512, bcq_tabulate_avx512}};
    case BcqIsa::avx2:
      return {bcq_tile_avx2, bcq_dequantize_tile_avx2, widen_tables_avx2, 8 * 16, {largest_chunk_sse, tabulate_sse}};
    case BcqIsa::portable: break;
  }
  return {tile_portable, dequantize_tile_portable, widen_tables_portable, 4 * 256, {largest_chunk_sse, tabulate_sse}};
}

// The integer tables of columns [c0, c1) of every activation row of X [n, ldx] in the ISA's
// layout, and their steps (a whole product: c0 = 0, c1 = cols, ldx = cols). x points at column
// c0 of row 0. They cost ~40 SSE (~15 AVX-512) operations per 4 columns and row, shared by
// every row and bit plane of W; the AVX2 and portable layouts are widened from
// integer_tables' int16 ones.
class ActivationTables {
 public:
  ActivationTables(const BcqKernelMatrix& w, int64_t n, const float* x, int64_t ldx, int64_t c0, int64_t c1,
                   const IsaKernels& kernels)
      : row_shorts_(w.blocks() * 128), row_ints_(w.blocks() * kernels.table_ints_per_block), groups_(w.groups) {
    GemmScratch& buffers = acquire_buffers();
    shorts_ = sized(buffers.table_shorts, n * row_shorts_);
    steps_ = sized(buffers.table_steps, n * w.groups);
    ints_ = kernels.widen_tables ? sized(buffers.table_ints, n * row_ints_) : nullptr;
    const auto [b0, b1] = slice_blocks(w, c0, c1);
    for (int64_t b = 0; b < n; ++b) {
      integer_tables(w, x + b * ldx, c0, c1, kernels.tables, shorts_ + b * row_shorts_, steps_ + b * groups_);
      if (ints_) kernels.widen_tables(shorts_ + b * row_shorts_, b0, b1, ints_ + b * row_ints_);
    }
  }
  ~ActivationTables() {
    if (own_buffers_)
      spare_scratch().push_back(std::move(own_buffers_));
    else
      scratch().tables_in_use = false;
  }
  ActivationTables(const ActivationTables&) = delete;
  ActivationTables& operator=(const ActivationTables&) = delete;

  // BcqTileArgs::tables and table_steps of activation row b.
  const void* row(int64_t b) const {
    if (ints_) return ints_ + b * row_ints_;
    return shorts_ + b * row_shorts_;
  }
  const float* steps(int64_t b) const { return steps_ + b * groups_; }

 private:
  // Buffers of this thread's that no other ActivationTables holds: its GemmScratch, or a
  // spare one while other tables on this thread still use that (a thread waiting in TBB's
  // fallback loop may run another loop's chunk; a head's task of a decoding step holds the
  // tables of its input while it makes those of its attention output, BcqSliceInput).
  GemmScratch& acquire_buffers() {
    GemmScratch& buffers = scratch();
    if (!buffers.tables_in_use) {
      buffers.tables_in_use = true;
      return buffers;
    }
    std::vector<std::unique_ptr<GemmScratch>>& spare = spare_scratch();
    if (spare.empty()) {
      own_buffers_ = std::make_unique<GemmScratch>();
    } else {
      own_buffers_ = std::move(spare.back());
      spare.pop_back();
    }
    return *own_buffers_;
  }
  // Buffers that ActivationTables of this thread made and returned, for the next ones.
  static std::vector<std::unique_ptr<GemmScratch>>& spare_scratch() {
    thread_local std::vector<std::unique_ptr<GemmScratch>> spare;
    return spare;
  }

  int64_t row_shorts_, row_ints_, groups_;
  std::unique_ptr<GemmScratch> own_buffers_;
  // The tables, which the other threads of the call read.
  int16_t* shorts_ = nullptr;
  float* steps_ = nullptr;
  int32_t* ints_ = nullptr;
};

// Y[b, r] (row stride ldy) = the part of X W^T that column blocks [b0, b1) contribute
// (+ bias[r] when not null), for the rows r in [r0, r1) of tiles [t0, t1), on this thread.
// Columns are walked in spans (BcqKernelMatrix::kSpanBlocks) whose tables stay in L1 while
// every tile streams its signs past them; otherwise each tile re-reads all tables from L2 (at
// 1 bit they are 8x larger than the tile's sign words; 1.4 vs 2.1 ns per 16 x 8 x 1 lookup at
// 1024 x 4096). The order of the adds depends on neither n nor the tiles, so a batch row
// gives the same bits as a gemv, and a row the same bits in any task.
void product_of_tiles(const BcqKernelMatrix& w, const ActivationTables& tables, void (*kernel)(const BcqTileArgs&),
                      int64_t n, int64_t t0, int64_t t1, int64_t b0, int64_t b1, int64_t r0, int64_t r1, float* y,
                      int64_t ldy, const float* bias) {
  std::vector<float>& out = scratch().tile_out;  // [tiles, n, 16]
  out.assign(static_cast<size_t>((t1 - t0) * n * kTile), 0.0f);
  const int64_t run_tiles = t1 - t0;
  for (int64_t sp = b0 / BcqKernelMatrix::kSpanBlocks; sp < w.spans() && w.span_begin(sp) < b1; ++sp) {
    const int64_t k0 = std::max(b0, w.span_begin(sp)), k1 = std::min(b1, w.span_end(sp));
    // The tiles' signs in this span are one run, tile after tile, each span_words long, of
    // which the blocks [k0, k1) are tile_words from `offset` on. Each tile prefetches the
    // signs `ahead` tiles later in the run (kPrefetchBytes ahead), or wrapped into the run in
    // the next span when whole spans of equal width are read (null at the end: nothing is
    // prefetched past the array).
    const int64_t span_words = (w.span_end(sp) - w.span_begin(sp)) * w.bits * kTile;
    const int64_t offset = (k0 - w.span_begin(sp)) * w.bits * kTile, tile_words = (k1 - k0) * w.bits * kTile;
    const uint32_t* run = w.span_signs(sp, t0) + offset;
    const bool whole_spans = tile_words == span_words && b1 == w.blocks();
    const uint32_t* next_run = whole_spans && sp + 1 < w.spans() && w.span_end(sp + 1) - k1 == k1 - k0
                                   ? w.span_signs(sp + 1, t0)
                                   : nullptr;
    const int64_t ahead = std::max<int64_t>(1, (kPrefetchBytes / kSignWordBytes + tile_words - 1) / tile_words);
    for (int64_t i = 0; i < run_tiles; ++i) {
      const int64_t later = i + ahead;
      const uint32_t* prefetch = later < run_tiles                       ? run + later * span_words
                                 : next_run && later < 2 * run_tiles ? next_run + (later - run_tiles) * span_words
                                                                     : nullptr;
      for (int64_t b = 0; b < n; ++b)
        kernel({run + i * span_words, w.tile_alphas(t0 + i), tables.row(b), tables.steps(b), w.blocks_per_group, k0,
                k1, w.bits, out.data() + (i * n + b) * kTile, b == 0 ? prefetch : nullptr});
    }
  }
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t first = std::max(r0, t * kTile), end = std::min({r1, (t + 1) * kTile, w.rows});
    for (int64_t b = 0; b < n; ++b) {
      const float* o = out.data() + ((t - t0) * n + b) * kTile;  // o[i]: row 16t + i's output
      float* yb = y + b * ldy;
      for (int64_t r = first; r < end; ++r) yb[r] = bias ? o[r - t * kTile] + bias[r] : o[r - t * kTile];
    }
  }
}

// Y [n, rows] = X W^T (+ bias) for n >= kBcqDequantizeFromRows: panels of whole tiles are
// dequantized (into the padded column space, where X is padded the same way) and multiplied
// on the calling thread; panels are split over threads by the threading rule.
void dequantized_product(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias,
                         BcqIsa isa) {
  const int64_t pc = w.padded_cols();
  std::vector<float> xp(static_cast<size_t>(n * pc));
  for (int64_t b = 0; b < n; ++b) padded_activations(w, x + b * w.cols, 0, w.cols, xp.data() + b * pc);
  void (*dequantize)(const BcqDequantizeArgs&) = kernels_for(isa).dequantize;
  const int64_t panel_tiles = std::max<int64_t>(1, kPanelBytes / (kTile * pc * static_cast<int64_t>(sizeof(float))));
  const int64_t panels = (w.tiles + panel_tiles - 1) / panel_tiles;
  const int64_t grain = grain_for_cost(kNsPerMac * static_cast<double>(n * panel_tiles * kTile * pc));
  parallel_for(panels, grain, [&](int64_t p0, int64_t p1) {
    std::vector<float> panel(static_cast<size_t>(panel_tiles * kTile * pc));  // [panel rows, padded_cols]
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t t0 = p * panel_tiles, t1 = std::min(w.tiles, t0 + panel_tiles);
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t sp = 0; sp < w.spans(); ++sp)
          dequantize({w.span_signs(sp, t), w.tile_alphas(t), w.blocks_per_group, w.span_begin(sp), w.span_end(sp),
                      w.bits, panel.data() + (t - t0) * kTile * pc, pc});
      const int64_t r0 = t0 * kTile, panel_rows = std::min(w.rows, t1 * kTile) - r0;
      if (bias)
        for (int64_t b = 0; b < n; ++b) std::copy(bias + r0, bias + r0 + panel_rows, y + b * w.rows + r0);
      gemm_serial(false, true, n, panel_rows, pc, 1.0f, xp.data(), pc, panel.data(), pc, bias ? 1.0f : 0.0f, y + r0,
                  w.rows);
    }
  });
}

}  // namespace

bool bcq_isa_supported(BcqIsa isa) {
  switch (isa) {
    case BcqIsa::portable: return true;
    case BcqIsa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case BcqIsa::avx512:  // VNNI: Cascade Lake, Ice Lake, Zen 4 and later; Skylake-SP takes the AVX2 path
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

std::string bcq_isa_unsupported_reason(BcqIsa isa) {  // bcq_isa_supported's checks in words: keep in step
  const char* needs = isa == BcqIsa::avx512 ? "AVX512F, AVX512BW and AVX512-VNNI"
                      : isa == BcqIsa::avx2 ? "AVX2 and FMA"
                                            : "x86-64";
  return "the " + bcq_isa_name(isa) + " path needs " + needs + ", which this CPU lacks";
}

BcqIsa bcq_best_isa() {
  static const BcqIsa best = bcq_isa_supported(BcqIsa::avx512) ? BcqIsa::avx512
                             : bcq_isa_supported(BcqIsa::avx2) ? BcqIsa::avx2
                                                               : BcqIsa::portable;
  return best;
}

std::string bcq_isa_name(BcqIsa isa) {
  switch (isa) {
    case BcqIsa::portable: return "portable";
    case BcqIsa::avx2: return "avx2";
    case BcqIsa::avx512: return "avx512";
  }
  return "?";
}

void bcq_gemv(const BcqKernelMatrix& w, const float* x, float* y, const float* bias) { bcq_gemm(w, 1, x, y, bias); }

void bcq_gemm(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias) {
  if (kernel_path() == KernelPath::reference) return bcq_gemm_reference(w, n, x, y, bias);
  bcq_gemm(w, n, x, y, bias, bcq_best_isa());
}

void bcq_gemm(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias, BcqIsa isa) {
  if (!bcq_isa_supported(isa)) throw QuantError("bcq_gemm: " + bcq_isa_unsupported_reason(isa));
  if (n <= 0 || w.rows == 0) return;
  if (w.cols == 0) {  // W x is zero; the dequantizing path's panel size would divide by zero
    for (int64_t b = 0; b < n; ++b)
      for (int64_t r = 0; r < w.rows; ++r) y[b * w.rows + r] = bias ? bias[r] : 0.0f;
    return;
  }
  if (!bcq_lookup_batch(n)) return dequantized_product(w, n, x, y, bias, isa);
  const IsaKernels kernels = kernels_for(isa);
  const ActivationTables tables(w, n, x, w.cols, 0, w.cols, kernels);
  void (*kernel)(const BcqTileArgs&) = kernels.tile;
  // Tiles are split over threads only in chunks long enough to pay for the hand-off
  // (core/parallel.h): at batch 1 a decoder's 1024 x 128 splits in 2, its 512 x 128 stays
  // on the caller.
  const int64_t grain = grain_for_cost(kNsPerBlockLookup * static_cast<double>(w.blocks() * w.bits * n));
  parallel_for(w.tiles, grain, [&](int64_t t0, int64_t t1) {
    product_of_tiles(w, tables, kernel, n, t0, t1, 0, w.blocks(), 0, w.rows, y, w.rows, bias);
  });
}

bool bcq_slice_supported(const BcqKernelMatrix& w, int64_t c0, int64_t c1) {
  if (c0 < 0 || c1 > w.cols || c0 >= c1) return false;
  if (c0 == 0 && c1 == w.cols) return true;
  auto on_boundary = [&](int64_t c) {  // where a slice may start or end
    if (c == 0 || c == w.cols || c % w.group_width == 0) return true;
    return w.groups == 1 && c % kBlockCols == 0;  // inside the one group: on a block boundary
  };
  return on_boundary(c0) && on_boundary(c1);
}

bool bcq_slice_rows_supported(const BcqKernelMatrix& w, int64_t r0, int64_t r1) {
  return r0 >= 0 && r0 < r1 && r1 <= w.rows && r0 % kTile == 0 && (r1 % kTile == 0 || r1 == w.rows);
}

struct BcqSliceInput::Tables {
  Tables(const BcqKernelMatrix& w, int64_t n, const float* x, int64_t ldx, int64_t c0, int64_t c1, BcqIsa isa)
      : kernels(kernels_for(isa)), tables(w, n, x, ldx, c0, c1, kernels) {}
  IsaKernels kernels;
  ActivationTables tables;
};

BcqSliceInput::BcqSliceInput(const BcqKernelMatrix& w, int64_t n, const float* x, int64_t ldx, int64_t c0,
                             int64_t c1, BcqIsa isa)
    : cols_(w.cols), group_width_(w.group_width), n_(n), c0_(c0), c1_(c1) {
  if (!bcq_isa_supported(isa)) throw QuantError("BcqSliceInput: " + bcq_isa_unsupported_reason(isa));
  if (!bcq_slice_supported(w, c0, c1))
    throw QuantError("BcqSliceInput: columns [" + std::to_string(c0) + ", " + std::to_string(c1) + ") of " +
                     std::to_string(w.cols) + " in groups of " + std::to_string(w.group_width) + " are not a slice");
  if (!bcq_lookup_batch(n))
    throw QuantError("BcqSliceInput: " + std::to_string(n) + " rows (1 to " +
                     std::to_string(kBcqDequantizeFromRows - 1) + " take the lookup-table kernels)");
  tables_ = std::make_unique<Tables>(w, n, x, ldx, c0, c1, isa);
}

BcqSliceInput::~BcqSliceInput() = default;

void bcq_gemm_slice(const BcqKernelMatrix& w, const BcqSliceInput& x, int64_t r0, int64_t r1, float* y, int64_t ldy,
                    const float* bias) {
  if (!x.fits(w))
    throw QuantError("bcq_gemm_slice: the input was prepared for " + std::to_string(x.cols_) +
                     " columns in groups of " + std::to_string(x.group_width_) + ", this matrix has " +
                     std::to_string(w.cols) + " in groups of " + std::to_string(w.group_width));
  if (!bcq_slice_rows_supported(w, r0, r1))
    throw QuantError("bcq_gemm_slice: rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") of " +
                     std::to_string(w.rows) + " do not start and end on a 16-row tile");
  const auto [b0, b1] = slice_blocks(w, x.c0_, x.c1_);
  product_of_tiles(w, x.tables_->tables, x.tables_->kernels.tile, x.n_, r0 / kTile, (r1 + kTile - 1) / kTile, b0, b1,
                   r0, r1, y, ldy, bias);
}

void bcq_gemv_reference(const BcqMatrix& w, const float* x, float* y, const float* bias) {
  bcq_gemm_reference(w, 1, x, y, bias);
}

void bcq_gemm_reference(const BcqMatrix& w, int64_t n, const float* x, float* y, const float* bias) {
  reference_product(w, w.group_width(), w.groups(), n, x, y, bias);
}

void bcq_gemm_reference(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias) {
  reference_product(w, w.group_width, w.groups, n, x, y, bias);
}

}  // namespace bcqnmt

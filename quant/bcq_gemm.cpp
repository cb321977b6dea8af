#include "quant/bcq_gemm.h"

#include <algorithm>
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
// 32 blocks of nibble tables (1,024 columns) = 16 KB, half of L1d.
constexpr int64_t kTableSpanBlocks = 32;
// What one (16-row tile, 32-column block, bit plane, activation row) costs the AVX-512 kernel:
// 4.4 ns cache-resident on the 2.6 GHz Zen 4 (bench_bcq_gemv, 128 columns). It turns the work
// of a call into time for the threading rule of core/parallel.h.
constexpr double kNsPerBlockLookup = 4.4;
// Signs are prefetched this far ahead of the kernel, in the order a task reads them, into L2
// (_MM_HINT_T1). One core's hardware prefetch does not keep the kernel fed from DRAM; with
// the next tile's line into L1 instead, 4096 x 4096 at 3 bits streamed took 700-760 us, with
// 4 KB ahead into L2 455-465 us (a stand-alone copy of the AVX-512 loop, Zen 4, load ~4).
constexpr int64_t kPrefetchBytes = 4096;

// A panel of dequantized rows, sized to stay in L2 while sgemm streams X past it.
constexpr int64_t kPanelBytes = 256 * 1024;
// What one multiply-add of the large-batch path costs, for the threading rule: sgemm at
// ~45 GMAC/s on one Zen 4 core (256 x 128 x 7010 in 5.0 ms).
constexpr double kNsPerMac = 0.022;

// x [cols] laid out in the padded column space: each group starts on a block boundary and
// its padding is zero. xp [padded_cols].
void padded_activations(const BcqKernelMatrix& w, const float* x, float* xp) {
  std::fill(xp, xp + w.padded_cols(), 0.0f);
  const int64_t group_stride = w.blocks_per_group * kBlockCols;
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t g_cols = std::min(w.group_width, w.cols - g * w.group_width);
    std::copy(x + g * w.group_width, x + g * w.group_width + g_cols, xp + g * group_stride);
  }
}

// Portable nibble tables: for every 4 columns k of x, entry i of table k is
// sum_j (bit j of i ? +x[4k+j] : -x[4k+j]).
void nibble_tables_portable(const float* x, int64_t nibbles, float* tables) {
  for (int64_t k = 0; k < nibbles; ++k) {
    const float* v = x + 4 * k;
    float* t = tables + 16 * k;
    // Entry i differs from entry i & (i - 1) (its lowest set bit cleared) by 2 x[lowest bit].
    t[0] = -(v[0] + v[1] + v[2] + v[3]);
    for (int i = 1; i < 16; ++i) t[i] = t[i & (i - 1)] + 2.0f * v[__builtin_ctz(static_cast<unsigned>(i))];
  }
}

// Portable path: 256-entry byte tables (one per 8 columns), table[b] = nibble_lo[b & 15] +
// nibble_hi[b >> 4].
void expand_byte_tables(int64_t bytes_per_row, const float* nibble, float* bytes) {
  for (int64_t c = 0; c < bytes_per_row; ++c) {
    const float* lo = nibble + 32 * c;
    const float* hi = lo + 16;
    float* t = bytes + 256 * c;
    for (int b = 0; b < 256; ++b) t[b] = lo[b & 15] + hi[b >> 4];
  }
}

// y = W x (+ bias) as a plain loop, for any layout with sign_bit(q, r, c) and alpha(q, r, g).
template <class Matrix>
void reference_product(const Matrix& w, int64_t group_width, int64_t groups, int64_t n, const float* x, float* y,
                       const float* bias) {
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * w.cols;
    for (int64_t r = 0; r < w.rows; ++r) {
      float acc = bias ? bias[r] : 0.0f;
      for (int q = 0; q < w.bits; ++q) {
        for (int64_t g = 0; g < groups; ++g) {
          float s = 0.0f;
          for (int64_t c = g * group_width; c < std::min(w.cols, (g + 1) * group_width); ++c)
            s += w.sign_bit(q, r, c) ? xb[c] : -xb[c];
          acc += w.alpha(q, r, g) * s;
        }
      }
      y[b * w.rows + r] = acc;
    }
  }
}

void tile_portable(const BcqTileArgs& a) {
  const int q_bits = a.bits;
  float acc[8][kTile];
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t b1 = std::min((g + 1) * a.blocks_per_group, a.block_end);
    for (int q = 0; q < q_bits; ++q) std::fill(acc[q], acc[q] + kTile, 0.0f);
    for (int64_t b = b0; b < b1; ++b) {
      const uint32_t* s = a.signs + b * q_bits * kTile;
      for (int j = 0; j < 4; ++j) {  // byte j of a word: columns 8j .. 8j + 7 of the block
        const float* table = a.tables + 256 * (4 * b + j);
        for (int q = 0; q < q_bits; ++q)
          for (int64_t i = 0; i < kTile; ++i) acc[q][i] += table[(s[q * kTile + i] >> (8 * j)) & 0xFFu];
      }
    }
    const float* alpha = a.alphas + g * q_bits * kTile;
    for (int q = 0; q < q_bits; ++q)
      for (int64_t i = 0; i < kTile; ++i) a.out[i] += alpha[q * kTile + i] * acc[q][i];
    b0 = b1;
  }
}

void dequantize_tile_portable(const BcqDequantizeArgs& a) {
  for (int64_t i = 0; i < kTile; ++i)
    for (int64_t b = 0; b < a.blocks; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * kTile + i;
      for (int64_t k = 0; k < kBlockCols; ++k) {
        float v = 0.0f;
        for (int q = 0; q < a.bits; ++q) {
          const bool plus = (a.signs[(b * a.bits + q) * kTile + i] >> k) & 1u;
          v += plus ? alpha[q * kTile] : -alpha[q * kTile];
        }
        a.w[i * a.ld + b * kBlockCols + k] = v;
      }
    }
}

// The kernels of one ISA: the one place that maps a BcqIsa to its functions.
struct IsaKernels {
  void (*nibble_tables)(const float* x, int64_t nibbles, float* tables);
  void (*tile)(const BcqTileArgs&);
  void (*dequantize)(const BcqDequantizeArgs&);
};

IsaKernels kernels_for(BcqIsa isa) {
  switch (isa) {
    case BcqIsa::avx512: return {bcq_nibble_tables_avx512, bcq_tile_avx512, bcq_dequantize_tile_avx512};
    case BcqIsa::avx2: return {bcq_nibble_tables_avx2, bcq_tile_avx2, bcq_dequantize_tile_avx2};
    case BcqIsa::portable: break;
  }
  return {nibble_tables_portable, tile_portable, dequantize_tile_portable};
}

// Nibble tables of one activation vector x [cols], over the padded column space (groups
// padded to whole blocks with zeros): tables [padded_cols / 4][16].
void build_nibble_tables(const BcqKernelMatrix& w, const float* x, float* tables, BcqIsa isa) {
  std::vector<float> xp(static_cast<size_t>(w.padded_cols()));
  padded_activations(w, x, xp.data());
  kernels_for(isa).nibble_tables(xp.data(), w.padded_cols() / 4, tables);
}

// Y [n, rows] = X W^T (+ bias) for n >= kBcqDequantizeFromRows: panels of whole tiles are
// dequantized (into the padded column space, where X is padded the same way) and multiplied
// on the calling thread; panels are split over threads by the threading rule.
void dequantized_product(const BcqKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias,
                         BcqIsa isa) {
  const int64_t pc = w.padded_cols();
  std::vector<float> xp(static_cast<size_t>(n * pc));
  for (int64_t b = 0; b < n; ++b) padded_activations(w, x + b * w.cols, xp.data() + b * pc);
  void (*dequantize)(const BcqDequantizeArgs&) = kernels_for(isa).dequantize;
  const int64_t panel_tiles = std::max<int64_t>(1, kPanelBytes / (kTile * pc * static_cast<int64_t>(sizeof(float))));
  const int64_t panels = (w.tiles + panel_tiles - 1) / panel_tiles;
  const int64_t grain = grain_for_cost(kNsPerMac * static_cast<double>(n * panel_tiles * kTile * pc));
  parallel_for(panels, grain, [&](int64_t p0, int64_t p1) {
    std::vector<float> panel(static_cast<size_t>(panel_tiles * kTile * pc));  // [panel rows, padded_cols]
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t t0 = p * panel_tiles, t1 = std::min(w.tiles, t0 + panel_tiles);
      for (int64_t t = t0; t < t1; ++t)
        dequantize({w.tile_signs(t), w.tile_alphas(t), w.blocks_per_group, w.blocks(), w.bits,
                    panel.data() + (t - t0) * kTile * pc, pc});
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
    case BcqIsa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  }
  return false;
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
  if (!bcq_isa_supported(isa)) throw QuantError("bcq_gemm: this CPU does not support " + bcq_isa_name(isa));
  if (n <= 0 || w.rows == 0) return;
  if (n >= kBcqDequantizeFromRows) return dequantized_product(w, n, x, y, bias, isa);
  const int64_t blocks = w.blocks();
  const int64_t nibble_floats = blocks * 128;
  const int64_t table_floats = isa == BcqIsa::portable ? blocks * 4 * 256 : nibble_floats;
  // Tables cost 4 * padded_cols adds per activation row, shared by every row and bit plane.
  std::vector<float> tables(static_cast<size_t>(n * table_floats));
  std::vector<float> nibble(isa == BcqIsa::portable ? static_cast<size_t>(nibble_floats) : 0);
  for (int64_t b = 0; b < n; ++b) {
    if (isa == BcqIsa::portable) {
      build_nibble_tables(w, x + b * w.cols, nibble.data(), isa);
      expand_byte_tables(blocks * 4, nibble.data(), tables.data() + b * table_floats);
    } else {
      build_nibble_tables(w, x + b * w.cols, tables.data() + b * table_floats, isa);
    }
  }
  void (*kernel)(const BcqTileArgs&) = kernels_for(isa).tile;
  // Tiles are split over threads only in tasks long enough to pay for the hand-off
  // (core/parallel.h): 4096 x 4096 splits, a decoder's 512 x 128 stays on the caller.
  const int64_t grain = grain_for_cost(kNsPerBlockLookup * static_cast<double>(blocks * w.bits * n));
  // Columns are walked in spans whose tables stay in L1 while every tile of the task streams
  // its signs past them; otherwise each tile re-reads all tables from L2 (at 1 bit they are
  // 8x larger than the tile's sign words; 1.4 vs 2.1 ns per 16 x 8 x 1 lookup at 1024 x 4096).
  // The span does not depend on n, so a batch row gives the same bits as a gemv.
  const int64_t span = kTableSpanBlocks;
  parallel_for(w.tiles, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> out(static_cast<size_t>((t1 - t0) * n * kTile), 0.0f);  // [tiles, n, 16]
    for (int64_t k0 = 0; k0 < blocks; k0 += span) {
      const int64_t k1 = std::min(blocks, k0 + span);
      // Prefetch `ahead` tile-spans later in this span column, or wrapped to the start of the
      // next column when it is as wide (null at the end: nothing is prefetched past the array).
      const int64_t span_bytes = (k1 - k0) * w.bits * kTile * static_cast<int64_t>(sizeof(uint32_t));
      const int64_t ahead = std::max<int64_t>(1, (kPrefetchBytes + span_bytes - 1) / span_bytes);
      auto prefetch_for = [&](int64_t t) -> const uint32_t* {
        if (t + ahead < t1) return w.tile_signs(t + ahead);
        const int64_t wrapped = t0 + (t + ahead - t1);
        if (wrapped >= t1 || k1 + (k1 - k0) > blocks) return nullptr;
        return w.tile_signs(wrapped) + (k1 - k0) * w.bits * kTile;
      };
      for (int64_t t = t0; t < t1; ++t) {
        const uint32_t* next = prefetch_for(t);
        for (int64_t b = 0; b < n; ++b)
          kernel({w.tile_signs(t), w.tile_alphas(t), tables.data() + b * table_floats, w.blocks_per_group, k0, k1,
                  w.bits, out.data() + ((t - t0) * n + b) * kTile, b == 0 ? next : nullptr});
      }
    }
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kTile;
      const int64_t valid = std::min(kTile, w.rows - r0);
      for (int64_t b = 0; b < n; ++b) {
        const float* o = out.data() + ((t - t0) * n + b) * kTile;
        float* yb = y + b * w.rows + r0;
        for (int64_t i = 0; i < valid; ++i) yb[i] = bias ? o[i] + bias[r0 + i] : o[i];
      }
    }
  });
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

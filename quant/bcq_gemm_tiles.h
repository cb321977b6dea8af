#pragma once
// Internal to quant/: the per-ISA tile kernels behind bcq_gemm. Each adds the part of W_tile x
// that falls in column blocks [block_begin, block_end) to out [16]. For each group (or the part
// of it in the range) and each plane q in order, it sums the plane's table lookups exactly in
// int32 (S_q) and does out = fma(alpha_q, float(S_q) * table_step, out); a group cut by the
// range boundary is scaled in two parts. Every ISA does exactly these float operations on the
// same integers, so all give bit-identical outputs. The AVX translation units are compiled
// for their ISA, so they use only raw pointers and intrinsics (no inline library code that
// the linker could pick for callers on older CPUs).
#include <cstdint>

namespace bcqnmt {

struct BcqTileArgs {
  const uint32_t* signs;    // the tile's blocks [block_begin, block_end): [blocks][Q][16], 64-byte aligned
  const float* alphas;      // [groups][Q][16]
  // The integer tables of one activation row (quant/bcq_gemm.h, "Table rounding"), in the
  // ISA's layout: AVX-512 int16 [blocks][4][32] (nibbles k and k + 4 side by side), AVX2 int32
  // [blocks * 8][16], portable int32 byte tables [blocks * 4][256].
  const void* tables;
  const float* table_steps;  // [groups]: the value of one table unit in each group
  int64_t blocks_per_group;
  int64_t block_begin;
  int64_t block_end;
  int bits;
  float* out;               // [16], accumulated into
  // Signs that will be read ~4 KB later, addressed like `signs` (null: none): prefetched
  // into L2 while this tile computes, because one core's hardware prefetch alone does not
  // keep the kernel fed from DRAM.
  const uint32_t* prefetch;
};

void bcq_tile_avx512(const BcqTileArgs& a);
void bcq_tile_avx2(const BcqTileArgs& a);

// The integer tables' two steps (quant/bcq_gemm.cpp, integer_tables), 16 lanes at a time and
// with the same operations as the SSE2 versions there, so with the same results: the largest
// chunk magnitude ((|x0| + |x1|) + |x2|) + |x3| of nibbles [k0, k1) of xp, and their tables,
// entry i of nibble k = cvtps2dq(((+-x0 +- x1) +- x2) +- x3) x inverse_step) (bit j of i
// picks the sign of x_j) at tables + the nibble's offset in the [blocks][4][32] int16 layout.
// k0 and k1 are multiples of 8 (whole blocks).
float bcq_largest_chunk_avx512(const float* xp, int64_t k0, int64_t k1);
void bcq_tabulate_avx512(const float* xp, int64_t k0, int64_t k1, float inverse_step, int16_t* tables);

// One tile dequantized for the large-batch path: w [16][ld] gets columns
// [32 * block_begin, 32 * block_end) of the tile's rows, w[i][32b + k] = sum over planes q, in
// order from 0.0f, of (bit k of sign word (b, q, i) ? +alpha : -alpha), alpha that of
// (group b / blocks_per_group, q, i). Every ISA adds in that order, so all give bit-identical
// weights.
struct BcqDequantizeArgs {
  const uint32_t* signs;  // as BcqTileArgs
  const float* alphas;    // as BcqTileArgs
  int64_t blocks_per_group;
  int64_t block_begin;
  int64_t block_end;
  int bits;
  float* w;
  int64_t ld;
};
void bcq_dequantize_tile_avx512(const BcqDequantizeArgs& a);
void bcq_dequantize_tile_avx2(const BcqDequantizeArgs& a);

}  // namespace bcqnmt

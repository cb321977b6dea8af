#pragma once
// Internal to quant/: the per-ISA tile kernels behind bcq_gemm. Each adds the part of W_tile x
// that falls in column blocks [block_begin, block_end) to out [16]; a group cut by the range
// boundary is scaled by its alpha in two parts (alpha * (s1 + s2) = alpha * s1 + alpha * s2). The AVX translation units are compiled for their ISA, so they
// use only raw pointers and intrinsics (no inline library code that the linker could pick
// for callers on older CPUs).
#include <cstdint>

namespace bcqnmt {

struct BcqTileArgs {
  const uint32_t* signs;    // the tile's block [blocks][Q][16], 64-byte aligned
  const float* alphas;      // [groups][Q][16]
  const float* tables;      // nibble tables [blocks * 8][16] (portable: byte tables [blocks * 4][256])
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

// One tile dequantized for the large-batch path: w [16][ld] gets columns [0, 32 * blocks)
// of the tile's rows, w[i][32b + k] = sum over planes q, in order from 0.0f, of
// (bit k of sign word (b, q, i) ? +alpha : -alpha), alpha that of (group b / blocks_per_group,
// q, i). Every ISA adds in that order, so all give bit-identical weights.
struct BcqDequantizeArgs {
  const uint32_t* signs;  // as BcqTileArgs
  const float* alphas;    // as BcqTileArgs
  int64_t blocks_per_group;
  int64_t blocks;
  int bits;
  float* w;
  int64_t ld;
};
void bcq_dequantize_tile_avx512(const BcqDequantizeArgs& a);
void bcq_dequantize_tile_avx2(const BcqDequantizeArgs& a);

// tables [nibbles][16]: entry i of nibble k is sum_j (bit j of i ? +1 : -1) * x[4k + j],
// computed as 4 multiply-adds with constant sign vectors. For matrices with few rows the
// tables are a sizeable part of a call (128 x 1024: 4096 entries against 3072 lookups).
void bcq_nibble_tables_avx512(const float* x, int64_t nibbles, float* tables);
void bcq_nibble_tables_avx2(const float* x, int64_t nibbles, float* tables);

}  // namespace bcqnmt

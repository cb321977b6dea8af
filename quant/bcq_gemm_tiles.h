#pragma once
// Internal to quant/: the per-ISA tile kernels behind bcq_gemm. Each adds W_tile x for one
// 16-row tile into out [16]. The AVX translation units are compiled for their ISA, so they
// use only raw pointers and intrinsics (no inline library code that the linker could pick
// for callers on older CPUs).
#include <cstdint>

namespace bcqnmt {

struct BcqTileArgs {
  const uint8_t* signs;     // the tile's block [chunks][Q][16]
  const float* alphas;      // [groups][Q][16]
  const float* tables;      // nibble tables [chunks * 2][16] (portable: byte tables [chunks][256])
  int64_t groups;
  int64_t chunks_per_group;
  int bits;
  float* out;               // [16], overwritten
};

void bcq_tile_avx512(const BcqTileArgs& a);
void bcq_tile_avx2(const BcqTileArgs& a);

}  // namespace bcqnmt

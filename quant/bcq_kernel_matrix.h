#pragma once
// BcqKernelMatrix: a BcqMatrix re-laid for the lookup-table kernels of quant/bcq_gemm.h.
// Built once per weight matrix (when a model is loaded for translation), never per call.
//
// Rows are cut into tiles of 16 (one AVX-512 register of outputs); columns into chunks of 8
// (one sign byte per row). Each group is padded to a whole number of chunks, so a chunk never
// straddles two groups and the padded columns, multiplied by zero activations, add nothing.
//   signs  [tiles][chunks][Q][16] bytes: byte (t, c, q, i) holds the 8 signs of row 16t + i,
//          plane q, chunk c; bit k = column 8c + k of the padded column space.
//   alphas [tiles][groups][Q][16] float32 (zero for padding rows).
// A tile's signs are one contiguous block, so a kernel streams them front to back, and the
// 16 bytes of a (chunk, plane) load as one vector of 16 table indices.
#include <cstdint>
#include <vector>

#include "quant/bcq_matrix.h"

namespace bcqnmt {

struct BcqKernelMatrix {
  static constexpr int64_t kTileRows = 16;
  static constexpr int64_t kChunkCols = 8;

  int64_t rows = 0;
  int64_t cols = 0;
  int bits = 0;
  int64_t group_width = 0;       // columns per group in W (last group may be shorter)
  int64_t groups = 0;
  int64_t chunks_per_group = 0;  // ceil(group_width / 8)
  int64_t tiles = 0;             // ceil(rows / 16)
  std::vector<uint8_t> signs;
  std::vector<float> alphas;

  BcqKernelMatrix() = default;
  explicit BcqKernelMatrix(const BcqMatrix& m);

  int64_t chunks() const { return groups * chunks_per_group; }
  int64_t padded_cols() const { return chunks() * kChunkCols; }
  const uint8_t* tile_signs(int64_t t) const { return signs.data() + t * chunks() * bits * kTileRows; }
  const float* tile_alphas(int64_t t) const { return alphas.data() + t * groups * bits * kTileRows; }
  // The sign of plane q at (r, c) (true = +1) and the scale of plane q, row r, group g, read
  // from the tiled layout: what bcq_gemm_reference (quant/bcq_gemm.h) loops over.
  bool sign_bit(int q, int64_t r, int64_t c) const;
  float alpha(int q, int64_t r, int64_t g) const;
  int64_t storage_bytes() const {
    return static_cast<int64_t>(signs.size() + alphas.size() * sizeof(float));
  }
};

}  // namespace bcqnmt

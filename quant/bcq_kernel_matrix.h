#pragma once
// BcqKernelMatrix: a BcqMatrix re-laid for the lookup-table kernels of quant/bcq_gemm.h.
// Built once per weight matrix (when a model is loaded for translation), never per call.
//
// Rows are cut into tiles of 16 (one AVX-512 register of outputs); columns into blocks of 32
// (one uint32 sign word per row and bit plane). Each group is padded to a whole number of
// blocks, so a block never straddles two groups and the padded columns, multiplied by zero
// activations, add nothing.
//   signs  [tiles][blocks][Q][16] uint32: word (t, b, q, i) holds the 32 signs of row 16t + i,
//          plane q, block b; bit k = column 32b + k of the padded column space (set = +1).
//   alphas [tiles][groups][Q][16] float32 (zero for padding rows).
// The 16 words of a (block, plane) are 64 bytes, one cache line of the 64-byte aligned array:
// one aligned vector load gives the kernel the 8 nibble indices of 16 rows, and a tile's
// signs are one contiguous run of lines that the kernel streams front to back.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "quant/bcq_matrix.h"

namespace bcqnmt {

// std::allocator with 64-byte (cache-line) alignment, for the kernels' aligned vector loads.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  bool operator==(const CacheLineAllocator&) const { return true; }
};

struct BcqKernelMatrix {
  static constexpr int64_t kTileRows = 16;
  static constexpr int64_t kBlockCols = 32;

  int64_t rows = 0;
  int64_t cols = 0;
  int bits = 0;
  int64_t group_width = 0;       // columns per group in W (last group may be shorter)
  int64_t groups = 0;
  int64_t blocks_per_group = 0;  // ceil(group_width / 32)
  int64_t tiles = 0;             // ceil(rows / 16)
  std::vector<uint32_t, CacheLineAllocator<uint32_t>> signs;
  std::vector<float> alphas;

  BcqKernelMatrix() = default;
  explicit BcqKernelMatrix(const BcqMatrix& m);

  int64_t blocks() const { return groups * blocks_per_group; }
  int64_t padded_cols() const { return blocks() * kBlockCols; }
  const uint32_t* tile_signs(int64_t t) const { return signs.data() + t * blocks() * bits * kTileRows; }
  const float* tile_alphas(int64_t t) const { return alphas.data() + t * groups * bits * kTileRows; }
  // The sign of plane q at (r, c) (true = +1) and the scale of plane q, row r, group g, read
  // from the tiled layout: what bcq_gemm_reference (quant/bcq_gemm.h) loops over.
  bool sign_bit(int q, int64_t r, int64_t c) const;
  float alpha(int q, int64_t r, int64_t g) const;
  int64_t storage_bytes() const {
    return static_cast<int64_t>(signs.size() * sizeof(uint32_t) + alphas.size() * sizeof(float));
  }
};

}  // namespace bcqnmt

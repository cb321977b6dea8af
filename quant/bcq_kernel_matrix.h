#pragma once
// BcqKernelMatrix: a BcqMatrix re-laid for the lookup-table kernels of quant/bcq_gemm.h.
// Built once per weight matrix (when a model is loaded for translation), never per call.
//
// Rows are cut into tiles of 16 (one AVX-512 register of outputs); columns into blocks of 32
// (one uint32 sign word per row and bit plane). Each group is padded to a whole number of
// blocks, so a block never straddles two groups and the padded columns, multiplied by zero
// activations, add nothing.
// Blocks are grouped into spans of kSpanBlocks, the columns whose activation tables the kernel
// keeps in L1 while it walks every tile (quant/bcq_gemm.cpp).
//   signs  [spans][tiles][blocks of the span][Q][16] uint32: word (t, b, q, i) holds the 32
//          signs of row 16t + i, plane q, block b; bit k = column 32b + k of the padded column
//          space (set = +1). The last span may be shorter.
//   alphas [tiles][groups][Q][16] float32 (zero for padding rows).
// The 16 words of a (block, plane) are 64 bytes, one cache line of the 64-byte aligned array:
// one aligned vector load gives the kernel the 8 nibble indices of 16 rows. The signs are
// stored in the order the LUT kernels read them (span by span, tile by tile), so a gemv on one
// thread streams one contiguous array front to back (with threads, each task a contiguous
// slice of every span). With tile-major signs, each tile's span was a separate 6 KB run 24 KB
// from the next (4096 x 4096, 3 bits), and streaming them was slower (quant/README.md, "Signs
// in reading order").
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <sys/mman.h>
#include <vector>

#include "quant/bcq_matrix.h"

namespace bcqnmt {

// The allocator of the kernels' sign arrays. Every array is 64-byte (cache-line) aligned, for
// the kernels' aligned vector loads. Arrays of 2 MB or more are 2 MB aligned and asked for
// transparent huge pages over their whole 2 MB pages (madvise MADV_HUGEPAGE; the kernel may
// decline, or THP may be off, and then this is only an alignment), because a product streams
// its signs front to back once: in 4 KB pages, 4096 x 4096 at 3 bits is 1,536 pages, each a
// TLB miss and a stop for the hardware prefetcher; in 2 MB pages it is 3, and 0.3 MB of 4 KB
// pages at the end. With the reading-order layout, that took the streamed 1-thread gemv from
// ~436 to ~333 us (bench_bcq_gemv, Zen 4, quant/README.md "Signs in reading order").
template <class T>
struct BcqArrayAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr std::align_val_t kHugeAlign{kHugePage};
  BcqArrayAllocator() = default;
  template <class U>
  BcqArrayAllocator(const BcqArrayAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new(bytes, kAlign));
    void* p = ::operator new(bytes, kHugeAlign);
    madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only: failure changes nothing
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { ::operator delete(p, n * sizeof(T) < kHugePage ? kAlign : kHugeAlign); }
  bool operator==(const BcqArrayAllocator&) const { return true; }
};

struct BcqKernelMatrix {
  static constexpr int64_t kTileRows = 16;
  static constexpr int64_t kBlockCols = 32;
  // 32 blocks of tables (1,024 padded columns) = 8 KB of int16 (16 KB widened to int32 for AVX2), at
  // most half of L1d. 64 blocks measured no faster on 4096 x 4096 (AVX-512, Zen 4).
  static constexpr int64_t kSpanBlocks = 32;

  int64_t rows = 0;
  int64_t cols = 0;
  int bits = 0;
  int64_t group_width = 0;       // columns per group in W (last group may be shorter)
  int64_t groups = 0;
  int64_t blocks_per_group = 0;  // ceil(group_width / 32)
  int64_t tiles = 0;             // ceil(rows / 16)
  std::vector<uint32_t, BcqArrayAllocator<uint32_t>> signs;
  std::vector<float> alphas;

  BcqKernelMatrix() = default;
  explicit BcqKernelMatrix(const BcqMatrix& m);

  int64_t blocks() const { return groups * blocks_per_group; }
  int64_t padded_cols() const { return blocks() * kBlockCols; }
  int64_t spans() const { return (blocks() + kSpanBlocks - 1) / kSpanBlocks; }
  int64_t span_begin(int64_t s) const { return s * kSpanBlocks; }                    // first block
  int64_t span_end(int64_t s) const { return std::min(blocks(), (s + 1) * kSpanBlocks); }  // past the last
  // Tile t's signs in span s: [span_end(s) - span_begin(s)][Q][16], followed by tile t + 1's.
  const uint32_t* span_signs(int64_t s, int64_t t) const {
    return signs.data() + (span_begin(s) * tiles + t * (span_end(s) - span_begin(s))) * bits * kTileRows;
  }
  const float* tile_alphas(int64_t t) const { return alphas.data() + t * groups * bits * kTileRows; }
  // The sign of plane q at (r, c) (true = +1) and the scale of plane q, row r, group g, read
  // from the tiled layout: what bcq_gemm_reference (quant/bcq_gemm.h) loops over.
  bool sign_bit(int q, int64_t r, int64_t c) const;
  float alpha(int q, int64_t r, int64_t g) const;
  int64_t storage_bytes() const {
    return static_cast<int64_t>(signs.size() * sizeof(uint32_t) + alphas.size() * sizeof(float));
  }

 private:
  // The index in `signs` of word (t, b, q, i).
  size_t sign_index(int64_t t, int64_t b, int64_t q, int64_t i) const {
    const int64_t s = b / kSpanBlocks;
    return static_cast<size_t>(span_signs(s, t) - signs.data() + ((b - span_begin(s)) * bits + q) * kTileRows + i);
  }
};

}  // namespace bcqnmt

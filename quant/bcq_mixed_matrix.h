#pragma once
// BcqMixedMatrix: a matrix whose rows have different bit widths (frequency-clustered
// embeddings, quant/frequency_clusters.h). Rows of equal width are gathered, in their
// original order, into one BcqMatrix piece, so every piece is an ordinary BcqMatrix (same
// solvers, same kernels, same file format) and a row lookup is two index reads.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "quant/bcq_matrix.h"
#include "quant/bcq_solvers.h"

namespace bcqnmt {

struct BcqMixedMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<BcqMatrix> pieces;       // one per distinct bit width, ascending bits
  std::vector<int32_t> piece_of_row;   // [rows]
  std::vector<int32_t> row_in_piece;   // [rows]

  int bits_of_row(int64_t r) const { return pieces[piece_of_row[r]].bits; }
  double average_bits() const;
  void dequantize_row(int64_t r, float* out) const;  // out [cols]; an embedding lookup
  Tensor dequantize() const;                          // [rows, cols]
  int64_t storage_bytes() const;
  void validate(const char* what) const;              // QuantError if inconsistent

  template <class Archive>
  void serialize(Archive& ar) {
    ar(rows, cols, pieces, piece_of_row, row_in_piece);
  }
};

// Row r of W [rows, cols] gets row_bits[r] bits; options.bits is ignored, the rest
// (method, cycles, group size) applies to every piece.
BcqMixedMatrix bcq_quantize_mixed(const float* w, int64_t rows, int64_t cols, const std::vector<int>& row_bits,
                                  const BcqOptions& options);

}  // namespace bcqnmt

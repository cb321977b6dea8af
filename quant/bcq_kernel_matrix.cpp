#include "quant/bcq_kernel_matrix.h"

#include <algorithm>

namespace bcqnmt {

namespace {

// The up-to-8 sign bits of columns [c, c + len) of a packed row, as the low bits of a byte.
uint8_t sign_byte(const uint64_t* row, int64_t words, int64_t c, int64_t len) {
  const int64_t w = c / 64;
  const int64_t shift = c % 64;
  uint64_t bits = row[w] >> shift;
  if (shift > 56 && w + 1 < words) bits |= row[w + 1] << (64 - shift);
  return static_cast<uint8_t>(bits & ((uint64_t{1} << len) - 1));
}

}  // namespace

bool BcqKernelMatrix::sign_bit(int q, int64_t r, int64_t c) const {
  const int64_t g = c / group_width, k = c - g * group_width;
  const int64_t chunk = g * chunks_per_group + k / kChunkCols;
  const uint8_t byte = signs[static_cast<size_t>(((r / kTileRows * chunks() + chunk) * bits + q) * kTileRows + r % kTileRows)];
  return (byte >> (k % kChunkCols)) & 1u;
}

float BcqKernelMatrix::alpha(int q, int64_t r, int64_t g) const {
  return alphas[static_cast<size_t>(((r / kTileRows * groups + g) * bits + q) * kTileRows + r % kTileRows)];
}

BcqKernelMatrix::BcqKernelMatrix(const BcqMatrix& m)
    : rows(m.rows),
      cols(m.cols),
      bits(m.bits),
      group_width(m.group_width()),
      groups(m.groups()),
      chunks_per_group((m.group_width() + kChunkCols - 1) / kChunkCols),
      tiles((m.rows + kTileRows - 1) / kTileRows) {
  m.validate("BcqKernelMatrix");
  const int64_t q_bits = bits;
  signs.assign(static_cast<size_t>(tiles * chunks() * q_bits * kTileRows), 0);
  alphas.assign(static_cast<size_t>(tiles * groups * q_bits * kTileRows), 0.0f);
  const int64_t words = m.words();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = r / kTileRows;
    const int64_t i = r % kTileRows;
    for (int64_t q = 0; q < q_bits; ++q) {
      const uint64_t* row = m.sign_row(static_cast<int>(q), r);
      for (int64_t g = 0; g < groups; ++g) {
        alphas[((t * groups + g) * q_bits + q) * kTileRows + i] = m.alpha(static_cast<int>(q), r, g);
        const int64_t g_cols = std::min(group_width, cols - g * group_width);
        for (int64_t k = 0; k * kChunkCols < g_cols; ++k) {
          const int64_t c = g * chunks_per_group + k;
          const int64_t len = std::min(kChunkCols, g_cols - k * kChunkCols);
          signs[((t * chunks() + c) * q_bits + q) * kTileRows + i] =
              sign_byte(row, words, g * group_width + k * kChunkCols, len);
        }
      }
    }
  }
}

}  // namespace bcqnmt

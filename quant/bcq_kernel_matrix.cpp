#include "quant/bcq_kernel_matrix.h"

#include <algorithm>

namespace bcqnmt {

namespace {

// The up-to-32 sign bits of columns [c, c + len) of a packed row, as the low bits of a word.
uint32_t sign_word(const uint64_t* row, int64_t words, int64_t c, int64_t len) {
  const int64_t w = c / 64;
  const int64_t shift = c % 64;
  uint64_t bits = row[w] >> shift;
  if (shift > 32 && w + 1 < words) bits |= row[w + 1] << (64 - shift);
  return static_cast<uint32_t>(bits & ((uint64_t{1} << len) - 1));
}

}  // namespace

bool BcqKernelMatrix::sign_bit(int q, int64_t r, int64_t c) const {
  const int64_t g = c / group_width, k = c - g * group_width;
  const int64_t block = g * blocks_per_group + k / kBlockCols;
  const uint32_t word = signs[sign_index(r / kTileRows, block, q, r % kTileRows)];
  return (word >> (k % kBlockCols)) & 1u;
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
      blocks_per_group((m.group_width() + kBlockCols - 1) / kBlockCols),
      tiles((m.rows + kTileRows - 1) / kTileRows) {
  m.validate("BcqKernelMatrix");
  const int64_t q_bits = bits;
  signs.assign(static_cast<size_t>(tiles * blocks() * q_bits * kTileRows), 0);
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
        for (int64_t k = 0; k * kBlockCols < g_cols; ++k) {
          const int64_t b = g * blocks_per_group + k;
          const int64_t len = std::min(kBlockCols, g_cols - k * kBlockCols);
          signs[sign_index(t, b, q, i)] =
              sign_word(row, words, g * group_width + k * kBlockCols, len);
        }
      }
    }
  }
}

}  // namespace bcqnmt

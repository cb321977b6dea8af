#include "quant/bcq_mixed_kernel.h"

#include "quant/bcq_gemm.h"

namespace bcqnmt {

BcqMixedKernelMatrix::BcqMixedKernelMatrix(const BcqMixedMatrix& m) : rows(m.rows), cols(m.cols) {
  m.validate("BcqMixedKernelMatrix");
  rows_of_piece.resize(m.pieces.size());
  for (const BcqMatrix& p : m.pieces) {
    pieces.emplace_back(p);
    rows_of_piece[pieces.size() - 1].resize(static_cast<size_t>(p.rows));
  }
  for (int64_t r = 0; r < rows; ++r) rows_of_piece[m.piece_of_row[r]][m.row_in_piece[r]] = static_cast<int32_t>(r);
  identity = pieces.size() == 1;
  for (int64_t r = 0; identity && r < rows; ++r) identity = rows_of_piece[0][r] == r;
}

void bcq_gemm(const BcqMixedKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias) {
  if (w.identity) {
    bcq_gemm(w.pieces[0], n, x, y, bias);
    return;
  }
  std::vector<float> part;
  for (size_t p = 0; p < w.pieces.size(); ++p) {
    const BcqKernelMatrix& piece = w.pieces[p];
    part.resize(static_cast<size_t>(n * piece.rows));
    bcq_gemm(piece, n, x, part.data());  // [n, piece rows]
    const std::vector<int32_t>& original = w.rows_of_piece[p];
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < piece.rows; ++i) {
        const int32_t r = original[i];
        y[b * w.rows + r] = bias ? part[b * piece.rows + i] + bias[r] : part[b * piece.rows + i];
      }
  }
}

}  // namespace bcqnmt

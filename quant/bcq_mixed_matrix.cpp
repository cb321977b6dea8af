#include "quant/bcq_mixed_matrix.h"

#include <algorithm>
#include <map>
#include <string>

#include "quant/quant_error.h"

namespace bcqnmt {

double BcqMixedMatrix::average_bits() const {
  if (rows == 0) return 0.0;
  double total = 0.0;
  for (const BcqMatrix& p : pieces) total += static_cast<double>(p.bits) * static_cast<double>(p.rows);
  return total / static_cast<double>(rows);
}

void BcqMixedMatrix::dequantize_row(int64_t r, float* out) const {
  pieces[piece_of_row[r]].dequantize_row(row_in_piece[r], out);
}

Tensor BcqMixedMatrix::dequantize() const {
  Tensor w({rows, cols});
  for (int64_t r = 0; r < rows; ++r) dequantize_row(r, w.data() + r * cols);
  return w;
}

int64_t BcqMixedMatrix::storage_bytes() const {
  int64_t bytes = 0;
  for (const BcqMatrix& p : pieces) bytes += p.storage_bytes();
  return bytes;
}

void BcqMixedMatrix::validate(const char* what) const {
  const std::string where = std::string(what) + ": ";
  if (static_cast<int64_t>(piece_of_row.size()) != rows || static_cast<int64_t>(row_in_piece.size()) != rows)
    throw QuantError(where + "row index tables do not have " + std::to_string(rows) + " entries");
  int64_t piece_rows = 0;
  for (const BcqMatrix& p : pieces) {
    p.validate(what);
    if (p.cols != cols) throw QuantError(where + "a piece has " + std::to_string(p.cols) + " columns, not " + std::to_string(cols));
    piece_rows += p.rows;
  }
  if (piece_rows != rows) throw QuantError(where + "pieces hold " + std::to_string(piece_rows) + " rows, not " + std::to_string(rows));
  for (int64_t r = 0; r < rows; ++r) {
    if (piece_of_row[r] < 0 || piece_of_row[r] >= static_cast<int32_t>(pieces.size()) || row_in_piece[r] < 0 ||
        row_in_piece[r] >= pieces[piece_of_row[r]].rows)
      throw QuantError(where + "row " + std::to_string(r) + " points outside its piece");
  }
}

BcqMixedMatrix bcq_quantize_mixed(const float* w, int64_t rows, int64_t cols, const std::vector<int>& row_bits,
                                  const BcqOptions& options) {
  if (static_cast<int64_t>(row_bits.size()) != rows)
    throw QuantError("bcq_quantize_mixed: " + std::to_string(row_bits.size()) + " bit widths for " +
                     std::to_string(rows) + " rows");
  std::map<int, std::vector<int64_t>> rows_by_bits;  // ascending bits, rows in original order
  for (int64_t r = 0; r < rows; ++r) rows_by_bits[row_bits[r]].push_back(r);
  BcqMixedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.piece_of_row.resize(static_cast<size_t>(rows));
  m.row_in_piece.resize(static_cast<size_t>(rows));
  for (const auto& [bits, members] : rows_by_bits) {
    std::vector<float> gathered(members.size() * static_cast<size_t>(cols));
    for (size_t i = 0; i < members.size(); ++i) {
      std::copy(w + members[i] * cols, w + (members[i] + 1) * cols, gathered.begin() + static_cast<int64_t>(i) * cols);
      m.piece_of_row[members[i]] = static_cast<int32_t>(m.pieces.size());
      m.row_in_piece[members[i]] = static_cast<int32_t>(i);
    }
    BcqOptions piece_options = options;
    piece_options.bits = bits;
    m.pieces.push_back(bcq_quantize(gathered.data(), static_cast<int64_t>(members.size()), cols, piece_options));
  }
  return m;
}

}  // namespace bcqnmt

#include "quant/bcq_matrix.h"

#include <algorithm>
#include <istream>
#include <ostream>
#include <string>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/vector.hpp>

#include "quant/quant_error.h"

namespace bcqnmt {

namespace {
// Far above any weight matrix (the reference's largest is 7,010 x 128), far below what
// overflows bits * rows * groups in int64.
constexpr int64_t kMaxDimension = int64_t{1} << 24;

void validate_shape(const BcqMatrix& m, const std::string& where) {
  if (m.rows < 0 || m.cols < 0) throw QuantError(where + "negative shape");
  if (m.rows > kMaxDimension || m.cols > kMaxDimension)
    throw QuantError(where + "shape [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                     "] exceeds the bound of " + std::to_string(kMaxDimension) + " rows or columns");
  if (m.bits < 1 || m.bits > 8) throw QuantError(where + "bits must be 1..8, got " + std::to_string(m.bits));
  if (m.group_size < 0) throw QuantError(where + "group size must be >= 0");
}
}  // namespace

BcqMatrix::BcqMatrix(int64_t rows_, int64_t cols_, int bits_, int64_t group_size_)
    : rows(rows_), cols(cols_), bits(bits_), group_size(group_size_) {
  validate_shape(*this, "BcqMatrix: ");
  alphas.assign(static_cast<size_t>(bits * rows * groups()), 0.0f);
  signs.assign(static_cast<size_t>(bits * rows * words()), 0);
}

int64_t BcqMatrix::group_width() const {
  if (group_size <= 0 || group_size >= cols) return std::max<int64_t>(cols, 1);
  return group_size;
}

int64_t BcqMatrix::groups() const { return cols == 0 ? 0 : (cols + group_width() - 1) / group_width(); }

void BcqMatrix::dequantize_row(int64_t r, float* out) const {
  std::fill(out, out + cols, 0.0f);
  const int64_t gw = group_width();
  for (int q = 0; q < bits; ++q) {
    for (int64_t c = 0; c < cols; ++c) {
      const float a = alpha(q, r, c / gw);
      out[c] += sign_bit(q, r, c) ? a : -a;
    }
  }
}

Tensor BcqMatrix::dequantize() const {
  Tensor w({rows, cols});
  for (int64_t r = 0; r < rows; ++r) dequantize_row(r, w.data() + r * cols);
  return w;
}

int64_t BcqMatrix::storage_bytes() const {
  return static_cast<int64_t>(signs.size() * sizeof(uint64_t) + alphas.size() * sizeof(float));
}

void BcqMatrix::validate(const char* what) const {
  const std::string where = std::string(what) + ": ";
  validate_shape(*this, where);
  const auto want_alphas = static_cast<size_t>(bits * rows * groups());
  const auto want_signs = static_cast<size_t>(bits * rows * words());
  if (alphas.size() != want_alphas || signs.size() != want_signs)
    throw QuantError(where + "[" + std::to_string(rows) + ", " + std::to_string(cols) + "] at " +
                     std::to_string(bits) + " bits needs " + std::to_string(want_alphas) + " alphas and " +
                     std::to_string(want_signs) + " sign words, found " + std::to_string(alphas.size()) +
                     " and " + std::to_string(signs.size()));
}

void save_bcq_matrix(std::ostream& out, const BcqMatrix& m) {
  cereal::PortableBinaryOutputArchive ar(out);
  ar(m);
  if (!out) throw QuantError("save_bcq_matrix: write failed");
}

BcqMatrix load_bcq_matrix(std::istream& in) {
  BcqMatrix m;
  try {
    cereal::PortableBinaryInputArchive ar(in);
    ar(m);
  } catch (const cereal::Exception& e) {
    throw QuantError(std::string("load_bcq_matrix: truncated or corrupt data (") + e.what() + ")");
  }
  m.validate("load_bcq_matrix");
  return m;
}

}  // namespace bcqnmt

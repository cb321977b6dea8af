#pragma once
// BcqMatrix: a weight matrix W [rows, cols] in binary-code form,
//   W[r, c] ~= sum_{q<Q} alphas[q][r][group(c)] * b_q[r, c],  b in {-1, +1}.
//
// Orientation: one alpha set per ROW, i.e. per output neuron of y = W x (LUT-GEMM's choice),
// so the quantized kernel scales each output once per bit plane. nn/'s Linear stores its
// kernel as [in, out] and hands us the transpose; embeddings [V, D] are quantized per row.
//
// Storage (the canonical layout, also what is serialized):
//   alphas [Q][rows][groups] float32
//   signs  [Q][rows][words] uint64, words = ceil(cols / 64); bit (c % 64) of word c / 64 is
//          column c, set = +1, clear = -1; bits past `cols` are always clear.
// group_size g > 0 splits a row into groups of g columns (the last one may be shorter);
// g = 0 means one group per row.
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "core/tensor.h"

namespace bcqnmt {

struct BcqMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  int bits = 0;             // Q
  int64_t group_size = 0;   // as requested; 0 = whole row
  std::vector<float> alphas;    // [Q][rows][groups]
  std::vector<uint64_t> signs;  // [Q][rows][words]

  BcqMatrix() = default;
  BcqMatrix(int64_t rows, int64_t cols, int bits, int64_t group_size);  // zero alphas, all -1

  int64_t group_width() const;  // columns per group (the last group may be shorter)
  int64_t groups() const;
  int64_t words() const { return (cols + 63) / 64; }

  float& alpha(int q, int64_t r, int64_t g) { return alphas[(q * rows + r) * groups() + g]; }
  float alpha(int q, int64_t r, int64_t g) const { return alphas[(q * rows + r) * groups() + g]; }
  uint64_t* sign_row(int q, int64_t r) { return signs.data() + (q * rows + r) * words(); }
  const uint64_t* sign_row(int q, int64_t r) const { return signs.data() + (q * rows + r) * words(); }
  bool sign_bit(int q, int64_t r, int64_t c) const { return (sign_row(q, r)[c / 64] >> (c % 64)) & 1u; }

  void dequantize_row(int64_t r, float* out) const;  // out [cols]
  Tensor dequantize() const;                          // [rows, cols]
  int64_t storage_bytes() const;  // sign bits + float32 alphas, as stored

  // Throws QuantError naming `what` if sizes disagree (used after loading).
  void validate(const char* what) const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(rows, cols, bits, group_size, alphas, signs);
  }
};

// cereal portable binary archive (endianness-independent).
void save_bcq_matrix(std::ostream& out, const BcqMatrix& m);
BcqMatrix load_bcq_matrix(std::istream& in);  // validates; QuantError on corrupt data

}  // namespace bcqnmt

#pragma once
// Token embedding scaled by sqrt(D) plus the sinusoidal position encoding of Vaswani et
// al. 2017, laid out as the reference does: [sin | cos] halves, not interleaved.
//   angle(p, i) = p / 10000^(i / (D/2)),  pe[p, i] = sin(angle), pe[p, D/2 + i] = cos(angle)
#include "nn/embedding.h"

namespace bcqnmt {

class PositionalEmbedding : public Module {
 public:
  PositionalEmbedding(int64_t vocab_size, int64_t d_model, int64_t max_positions, Rng& rng);
  // ids [B, T] at positions offset..offset+T-1 -> [B, T, D]
  Variable forward(const IndexTensor& ids, int64_t offset = 0) const;

  Embedding& embedding() { return embedding_; }
  const Tensor& encoding() const { return encoding_; }  // [max_positions, D]

 private:
  Embedding embedding_;
  Tensor encoding_;
  float scale_;
};

Tensor sinusoidal_encoding(int64_t positions, int64_t d_model);  // [P, D]

}  // namespace bcqnmt

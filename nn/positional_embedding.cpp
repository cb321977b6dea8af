#include "nn/positional_embedding.h"

#include <cmath>

#include "core/ops.h"
#include "nn/error.h"

namespace bcqnmt {

Tensor sinusoidal_encoding(int64_t positions, int64_t d_model) {
  const int64_t half = d_model / 2;
  Tensor pe({positions, d_model});
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) / std::pow(10000.0, static_cast<double>(i) / half);
      pe.data()[p * d_model + i] = static_cast<float>(std::sin(angle));
      pe.data()[p * d_model + half + i] = static_cast<float>(std::cos(angle));
    }
  return pe;
}

PositionalEmbedding::PositionalEmbedding(int64_t vocab_size, int64_t d_model, int64_t max_positions, Rng& rng)
    : embedding_(vocab_size, d_model, rng),
      encoding_(sinusoidal_encoding(max_positions, d_model)),
      scale_(std::sqrt(static_cast<float>(d_model))) {
  register_module("embedding", embedding_);
}

Variable PositionalEmbedding::forward(const IndexTensor& ids, int64_t offset) const {
  const int64_t t = ids.shape.back();
  if (offset + t > encoding_.size(0))
    throw NnError("sequence of " + std::to_string(offset + t) + " positions exceeds max_positions " +
                  std::to_string(encoding_.size(0)));
  Variable x = mul_scalar(embedding_.forward(ids), scale_);  // [B, T, D]
  return add(x, Variable(encoding_.rows(offset, offset + t)));
}

}  // namespace bcqnmt

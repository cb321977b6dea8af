#pragma once
// Root-mean-square normalisation over the last dimension (Zhang & Sennrich 2019):
// y = x / sqrt(mean(x^2) + eps) * gamma, "gamma" 1 at init. Unlike LayerNorm it neither
// centres x nor adds a beta: D fewer parameters per block and one reduction less per row.
#include "nn/normalization.h"

namespace bcqnmt {

class RmsNorm : public Normalization {
 public:
  RmsNorm(int64_t dim, float epsilon);
  Variable forward(const Variable& x) const override;  // [..., D] -> [..., D]

 private:
  Variable gamma_;
  float epsilon_;
};

}  // namespace bcqnmt

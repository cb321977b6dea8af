#pragma once
// Layer normalisation over the last dimension: "gamma" (1 at init) and "beta" (0).
#include "nn/normalization.h"

namespace bcqnmt {

class LayerNorm : public Normalization {
 public:
  LayerNorm(int64_t dim, float epsilon);
  Variable forward(const Variable& x) const override;  // [..., D] -> [..., D]

 private:
  Variable gamma_, beta_;
  float epsilon_;
};

}  // namespace bcqnmt

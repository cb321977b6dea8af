#include "nn/initializers.h"

#include <cmath>

namespace bcqnmt {

Tensor uniform_tensor(const Shape& shape, float lo, float hi, Rng& rng) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

Tensor glorot_uniform(int64_t fan_in, int64_t fan_out, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  return uniform_tensor({fan_in, fan_out}, -limit, limit, rng);
}

}  // namespace bcqnmt

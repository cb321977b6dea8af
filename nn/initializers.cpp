#include "nn/initializers.h"

#include <cmath>

namespace bcqnmt {

Tensor uniform_tensor(const Shape& shape, float lo, float hi, Rng& rng) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

Tensor glorot_uniform(int64_t rows, int64_t cols, GlorotFans fans, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fans.fan_in + fans.fan_out));
  return uniform_tensor({rows, cols}, -limit, limit, rng);
}

}  // namespace bcqnmt

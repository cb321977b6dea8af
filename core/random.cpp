#include "core/random.h"

#include <cmath>

namespace bcqnmt {

float Rng::normal() {
  float u1 = uniform();
  float u2 = uniform();
  if (u1 < 1e-12f) u1 = 1e-12f;
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958647692f * u2);
}

std::vector<float> Rng::normals(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal();
  return v;
}

}  // namespace bcqnmt

#include "core/vector_math.h"

#include <cmath>
#include <cstring>

namespace bcqnmt {

namespace {

// Cephes expf: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-6 polynomial,
// then scale by 2^n through the exponent bits.
inline float exp_poly(float x) {
  const bool underflow = x < -87.0f;
  x = std::fmin(std::fmax(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return underflow ? 0.0f : p * scale;
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float max_of(const float* x, int64_t n) {
  float acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = -INFINITY;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] = std::fmax(acc[j], x[i + j]);
  float m = -INFINITY;
  for (int j = 0; j < 16; ++j) m = std::fmax(m, acc[j]);
  for (; i < n; ++i) m = std::fmax(m, x[i]);
  return m;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float exp_shifted(const float* x, int64_t n, float shift, float* out) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float e = exp_poly(x[i + j] - shift);
      if (out) out[i + j] = e;
      acc[j] += e;
    }
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) {
    const float e = exp_poly(x[i] - shift);
    if (out) out[i] = e;
    s += e;
  }
  return s;
}

float vector_math_exp(float x) { return exp_poly(x); }

}  // namespace bcqnmt

#include "core/vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bcqnmt {

namespace {

// Cephes expf: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-6 polynomial,
// then scale by 2^n through the exponent bits. Branch-free (selects, an integer
// truncation for floor) so that the loops calling it vectorise.
inline float exp_poly(float x) {
  const float keep = x >= -87.0f ? 1.0f : 0.0f;
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // floor(x log2(e) + 1/2) by truncating a positive number (x log2(e) >= -125.6).
  const float n = static_cast<float>(static_cast<int32_t>(x * 1.44269504088896341f + 128.5f)) - 128.0f;
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
  return p * scale * keep;
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float max_of(const float* x, int64_t n) {
  float acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = -INFINITY;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  float m = -INFINITY;
  for (int j = 0; j < 16; ++j) m = acc[j] > m ? acc[j] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

namespace {
// The two variants of exp_shifted as separate loops: a store guarded by `if (out)`
// inside the loop would stop it vectorising.
template <bool kStore>
inline float exp_shifted_loop(const float* x, int64_t n, float shift, float* out) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float e = exp_poly(x[i + j] - shift);
      if constexpr (kStore) out[i + j] = e;
      acc[j] += e;
    }
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) {
    const float e = exp_poly(x[i] - shift);
    if constexpr (kStore) out[i] = e;
    s += e;
  }
  return s;
}
}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float exp_shifted(const float* x, int64_t n, float shift, float* out) {
  return out ? exp_shifted_loop<true>(x, n, shift, out) : exp_shifted_loop<false>(x, n, shift, nullptr);
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
int64_t first_above(const float* x, int64_t from, int64_t n, float threshold) {
  int64_t i = from;
  for (; i + 16 <= n; i += 16) {
    int hits = 0;
    for (int j = 0; j < 16; ++j) hits |= x[i + j] > threshold ? 1 : 0;
    if (hits) break;
  }
  for (; i < n; ++i)
    if (x[i] > threshold) return i;
  return n;
}

float vector_math_exp(float x) { return exp_poly(x); }

bool first_argmax_is(const float* x, int64_t i, float top) {
  return x[i] == top && std::find(x, x + i, top) == x + i;
}

}  // namespace bcqnmt

#pragma once
// The kernels of core/vector_math.h, written once over a vector of B bytes with GCC's vector
// extensions and compiled once per ISA: vector_math.cpp (SSE2, B = 16), vector_math_avx2.cpp
// (B = 32) and vector_math_avx512.cpp (B = 64) include this header after their
// `#pragma GCC target`, and the anonymous namespace gives each file its own instantiations,
// compiled for its ISA. Include it from those three files only.
//
// Why explicit vectors: written as plain loops (16 accumulators, target_clones), GCC 12 kept
// all three kernels scalar (objdump showed vmaxss, and vcomiss with branches): the clamps in
// exp became branches under -ftrapping-math, and neither the max nor the early exit was
// vectorised. Why one file per ISA: generic vectors are lowered for the ISA of the function
// that holds them, before inlining, so a helper compiled for the default ISA turned an AVX-512
// compare into 16 scalar ones. Why native widths: a 64-byte vector on AVX2 had its compares
// lowered to scalar code as well.
//
// Every function here has internal linkage, so no vector crosses an ABI boundary: GCC's
// -Wpsabi note about vector arguments and returns does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/vector_math.h"

namespace bcqnmt {

// Defined by vector_math_avx2.cpp and vector_math_avx512.cpp.
extern const VectorMathKernels kVectorMathAvx2, kVectorMathAvx512;

namespace {

template <int kBytes>
struct Lanes;
template <>
struct Lanes<16> {
  typedef float F __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
};
template <>
struct Lanes<32> {
  typedef float F __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
};
template <>
struct Lanes<64> {
  typedef float F __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
};

template <int B>
inline typename Lanes<B>::F load(const float* x) {
  typename Lanes<B>::F v;
  std::memcpy(&v, x, B);
  return v;
}

// x[0..count) in the first lanes (count < B / 4), `fill` in the others.
template <int B>
inline typename Lanes<B>::F load_part(const float* x, int64_t count, float fill) {
  typename Lanes<B>::F v = typename Lanes<B>::F{} + fill;
  std::memcpy(&v, x, static_cast<size_t>(count) * sizeof(float));
  return v;
}

// Cephes expf: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-6 polynomial, then scale
// by 2^n through the exponent bits. Below -87 the result is exactly 0 (keep); NaN stays NaN.
template <int B>
inline typename Lanes<B>::F exp_lanes(typename Lanes<B>::F x) {
  using F = typename Lanes<B>::F;
  using I = typename Lanes<B>::I;
  const F zero{};
  const F keep = x >= -87.0f ? zero + 1.0f : zero;
  x = x < -87.0f ? zero - 87.0f : x;
  x = x > 88.0f ? zero + 88.0f : x;
  // floor(x log2(e) + 1/2) by truncating a positive number (x log2(e) >= -125.6).
  const F n = __builtin_convertvector(__builtin_convertvector(x * 1.44269504088896341f + 128.5f, I), F) - 128.0f;
  const F r = x - n * 0.693359375f + n * 2.12194440e-4f;
  F p = zero + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I bits = (__builtin_convertvector(n, I) + 127) << 23;
  return p * std::bit_cast<F>(bits) * keep;
}

template <int B>
inline float max_of_lanes(const float* x, int64_t n) {
  using F = typename Lanes<B>::F;
  constexpr int64_t kLanes = B / 4;
  F best = F{} - INFINITY;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const F v = load<B>(x + i);
    best = v > best ? v : best;
  }
  if (i < n) {
    const F v = load_part<B>(x + i, n - i, -INFINITY);
    best = v > best ? v : best;
  }
  float m = -INFINITY;
  for (int64_t j = 0; j < kLanes; ++j) m = best[j] > m ? best[j] : m;
  return m;
}

template <int B, bool kStore>
inline float exp_shifted_lanes(const float* x, int64_t n, float shift, float* out) {
  using F = typename Lanes<B>::F;
  constexpr int64_t kLanes = B / 4;
  F sum{};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const F e = exp_lanes<B>(load<B>(x + i) - shift);
    if constexpr (kStore) std::memcpy(out + i, &e, B);
    sum += e;
  }
  if (i < n) {
    const auto rest = static_cast<size_t>(n - i);
    const F e = exp_lanes<B>(load_part<B>(x + i, n - i, 0.0f) - shift);
    if constexpr (kStore) std::memcpy(out + i, &e, rest * sizeof(float));
    F real{};  // the lanes past n add nothing
    std::memcpy(&real, &e, rest * sizeof(float));
    sum += real;
  }
  float s = 0.0f;
  for (int64_t j = 0; j < kLanes; ++j) s += sum[j];
  return s;
}

// Whether any lane of v is non-zero, by halving: OR the two halves until 16 bytes are left,
// then two 64-bit words. A loop over the lanes compiled to one extraction per lane.
template <int B>
inline bool any_lane(typename Lanes<B>::I v) {
  if constexpr (B == 16) {
    uint64_t words[2];
    std::memcpy(words, &v, sizeof words);
    return (words[0] | words[1]) != 0;
  } else {
    typename Lanes<B / 2>::I low, high;
    std::memcpy(&low, &v, B / 2);
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + B / 2, B / 2);
    return any_lane<B / 2>(low | high);
  }
}

template <int B>
inline int64_t first_above_lanes(const float* x, int64_t from, int64_t n, float threshold) {
  using I = typename Lanes<B>::I;
  constexpr int64_t kLanes = B / 4;
  int64_t i = from;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const I hits = (load<B>(x + i) > threshold) | (load<B>(x + i + kLanes) > threshold) |
                   (load<B>(x + i + 2 * kLanes) > threshold) | (load<B>(x + i + 3 * kLanes) > threshold);
    if (any_lane<B>(hits)) break;
  }
  for (; i < n; ++i)
    if (x[i] > threshold) return i;
  return n;
}

template <int B>
float exp_shifted_any(const float* x, int64_t n, float shift, float* out) {
  return out ? exp_shifted_lanes<B, true>(x, n, shift, out) : exp_shifted_lanes<B, false>(x, n, shift, nullptr);
}

template <int B>
constexpr VectorMathKernels lane_kernels() {
  return {max_of_lanes<B>, exp_shifted_any<B>, first_above_lanes<B>};
}

}  // namespace

}  // namespace bcqnmt

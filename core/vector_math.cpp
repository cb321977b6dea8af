#include "core/vector_math.h"

#include <algorithm>

#include "core/vector_math_lanes.h"  // compiled here for SSE2, the x86-64 baseline

namespace bcqnmt {

namespace {

constexpr VectorMathKernels kVectorMathSse2 = lane_kernels<16>();

const VectorMathKernels& best_kernels() {
  static const VectorMathKernels& best = vector_math_kernels(vector_best_isa());
  return best;
}

}  // namespace

bool vector_isa_supported(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::sse2: return true;
    case VectorIsa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case VectorIsa::avx512:  // x86-64-v4 (vector_math_avx512.cpp): Skylake-SP, Zen 4 and later
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }
  return false;
}

VectorIsa vector_best_isa() {
  static const VectorIsa best = vector_isa_supported(VectorIsa::avx512) ? VectorIsa::avx512
                                : vector_isa_supported(VectorIsa::avx2) ? VectorIsa::avx2
                                                                        : VectorIsa::sse2;
  return best;
}

std::string vector_isa_name(VectorIsa isa) {
  return isa == VectorIsa::avx512 ? "avx512" : isa == VectorIsa::avx2 ? "avx2" : "sse2";
}

const VectorMathKernels& vector_math_kernels(VectorIsa isa) {
  return isa == VectorIsa::avx512 ? kVectorMathAvx512 : isa == VectorIsa::avx2 ? kVectorMathAvx2 : kVectorMathSse2;
}

float max_of(const float* x, int64_t n) { return best_kernels().max_of(x, n); }

float exp_shifted(const float* x, int64_t n, float shift, float* out) {
  return best_kernels().exp_shifted(x, n, shift, out);
}

int64_t first_above(const float* x, int64_t from, int64_t n, float threshold) {
  return best_kernels().first_above(x, from, n, threshold);
}

float vector_math_exp(float x) { return exp_lanes<16>(Lanes<16>::F{} + x)[0]; }

bool first_argmax_is(const float* x, int64_t i, float top) {
  return x[i] == top && std::find(x, x + i, top) == x + i;
}

}  // namespace bcqnmt

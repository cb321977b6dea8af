#pragma once
// Vectorised row primitives for the softmax family and top-k scans. exp() from libm is
// scalar and costs ~20 cycles; this one (Cephes' expf polynomial, relative error ~2e-7) runs
// 16, 8 or 4 lanes at a time. Each kernel is compiled for three ISAs (vector_math_lanes.h says
// why explicitly) and the best one this CPU runs is picked once, so the default build stays
// portable. Arguments below -87 give exactly 0, so additive -1e9 masks stay exact zeros.
#include <cstdint>
#include <string>

namespace bcqnmt {

// The largest of x[0..n); -infinity for n = 0. NaNs are skipped.
float max_of(const float* x, int64_t n);
// out[j] = exp(x[j] - shift); returns sum_j out[j]. out may equal x; out == nullptr only sums.
float exp_shifted(const float* x, int64_t n, float shift, float* out);
// The first i in [from, n) with x[i] > threshold, or n. For top-k scans, where almost every
// value falls below the k-th best so far: a block of 4 vectors is tested at once.
int64_t first_above(const float* x, int64_t from, int64_t n, float threshold);
// argmax(x[0..n)) == i, argmax taking the first maximum, given top = max_of(x, n).
bool first_argmax_is(const float* x, int64_t i, float top);
// The exp of the same polynomial for one value (the SSE2 kernel's lane 0), for tests.
float vector_math_exp(float x);

// The instruction sets the kernels are compiled for, by vector width: SSE2 (4 lanes, every
// x86-64), AVX2 with FMA (8) and AVX-512F (16). The functions above use the best one.
enum class VectorIsa { sse2, avx2, avx512 };
struct VectorMathKernels {
  float (*max_of)(const float* x, int64_t n);
  float (*exp_shifted)(const float* x, int64_t n, float shift, float* out);
  int64_t (*first_above)(const float* x, int64_t from, int64_t n, float threshold);
};
bool vector_isa_supported(VectorIsa isa);  // by this CPU
VectorIsa vector_best_isa();
std::string vector_isa_name(VectorIsa isa);
// One ISA's kernels, for tests and benchmarks that compare the ISAs; calling them on a CPU
// without the ISA is an illegal instruction, so check vector_isa_supported first.
const VectorMathKernels& vector_math_kernels(VectorIsa isa);

}  // namespace bcqnmt

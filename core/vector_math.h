#pragma once
// Vectorised row primitives for the softmax family. exp() from libm is scalar and costs
// ~20 cycles; this one (Cephes' expf polynomial, relative error ~2e-7) vectorises, and
// the target clones pick AVX-512 or AVX2 at run time while the default build stays
// portable. Arguments below -87 give exactly 0, so additive -1e9 masks stay exact zeros.
#include <cstdint>

namespace bcqnmt {

float max_of(const float* x, int64_t n);
// out[j] = exp(x[j] - shift); returns sum_j out[j]. out may equal x; out == nullptr only sums.
float exp_shifted(const float* x, int64_t n, float shift, float* out);
// The first i in [from, n) with x[i] > threshold, or n. For top-k scans, where almost every
// value falls below the k-th best so far: 16 values are compared per step.
int64_t first_above(const float* x, int64_t from, int64_t n, float threshold);
// argmax(x[0..n)) == i, argmax taking the first maximum, given top = max_of(x, n).
bool first_argmax_is(const float* x, int64_t i, float top);
// The scalar exp of the same polynomial, for tests and single values.
float vector_math_exp(float x);

}  // namespace bcqnmt

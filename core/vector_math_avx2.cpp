// core/vector_math_lanes.h's kernels compiled for AVX2 and FMA (x86-64-v3): 8 lanes.
// Called only when vector_isa_supported says the CPU has them.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/vector_math.h"

#pragma GCC target("arch=x86-64-v3")
#include "core/vector_math_lanes.h"

namespace bcqnmt {

constinit const VectorMathKernels kVectorMathAvx2 = lane_kernels<32>();

}  // namespace bcqnmt

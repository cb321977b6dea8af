// core/vector_math_lanes.h's kernels compiled for AVX-512 F, DQ, BW and VL (x86-64-v4): 16 lanes; without DQ, GCC lowers a compare
// that yields an integer vector to scalar code.
// Called only when vector_isa_supported says the CPU has them.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/vector_math.h"

#pragma GCC target("arch=x86-64-v4")
#include "core/vector_math_lanes.h"

namespace bcqnmt {

constinit const VectorMathKernels kVectorMathAvx512 = lane_kernels<64>();

}  // namespace bcqnmt

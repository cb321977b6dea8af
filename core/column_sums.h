#pragma once
// out[j] += sum_r x[r, j] for x [rows, cols]: the gradient of a value broadcast over rows
// (a bias, a broadcast operand). Rows are reduced in fixed blocks, and the blocks in
// order, so the result does not depend on the thread count.
#include <cstdint>

namespace bcqnmt {

void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out);

}  // namespace bcqnmt

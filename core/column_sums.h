#pragma once
// out[j] += sum_r x[r, j] * w[r, j] for x, w [rows, cols] (w = nullptr: all ones): the
// gradient of a value broadcast over rows — a bias, a broadcast operand, a norm's gain
// (x = dy, w = the normalised input). Rows are reduced in fixed blocks, and the blocks in
// order, so the result does not depend on the thread count.
#include <cstdint>

namespace bcqnmt {

void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out, const float* w = nullptr);

}  // namespace bcqnmt

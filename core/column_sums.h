#pragma once
// out[j] += sum_r x[r, j] * w[r, j] for x, w [rows, cols] (w = nullptr: all ones): the
// gradient of a value broadcast over rows — a bias, a broadcast operand, a norm's gain
// (x = dy, w = the normalised input). Rows are reduced in fixed blocks, and the blocks in
// order, so the result does not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace bcqnmt {

void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out, const float* w = nullptr);

// The same sums, calling row_done(r) right after row r was added, on the task that added
// it: a caller can do more per-row work while the row is in cache (the bf16 GEMM path
// rounds the bias gradient's rows in the same pass).
template <class RowDone>
void add_column_sums_visiting(const float* x, int64_t rows, int64_t cols, float* out, const float* w,
                              RowDone row_done) {
  constexpr int64_t kRowBlock = 64;
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  std::vector<float> partial(static_cast<size_t>(blocks * cols), 0.0f);
  parallel_for(blocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      float* p = partial.data() + blk * cols;
      for (int64_t r = blk * kRowBlock; r < std::min(rows, (blk + 1) * kRowBlock); ++r) {
        if (w)
          for (int64_t j = 0; j < cols; ++j) p[j] += x[r * cols + j] * w[r * cols + j];
        else
          for (int64_t j = 0; j < cols; ++j) p[j] += x[r * cols + j];
        row_done(r);
      }
    }
  });
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t j = 0; j < cols; ++j) out[j] += partial[blk * cols + j];
}

}  // namespace bcqnmt

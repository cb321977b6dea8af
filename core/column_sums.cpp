#include "core/column_sums.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"

namespace bcqnmt {

void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out, const float* w) {
  constexpr int64_t kRowBlock = 64;
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  std::vector<float> partial(static_cast<size_t>(blocks * cols), 0.0f);
  parallel_for(blocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      float* p = partial.data() + blk * cols;
      for (int64_t r = blk * kRowBlock; r < std::min(rows, (blk + 1) * kRowBlock); ++r)
        if (w)
          for (int64_t j = 0; j < cols; ++j) p[j] += x[r * cols + j] * w[r * cols + j];
        else
          for (int64_t j = 0; j < cols; ++j) p[j] += x[r * cols + j];
    }
  });
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t j = 0; j < cols; ++j) out[j] += partial[blk * cols + j];
}

}  // namespace bcqnmt

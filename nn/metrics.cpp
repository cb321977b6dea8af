#include "nn/metrics.h"

#include <algorithm>

namespace bcqnmt {

TokenCounts masked_accuracy(const Tensor& logits, const IndexTensor& labels) {
  const int64_t v = logits.size(-1);
  TokenCounts counts;
  for (int64_t r = 0; r < labels.numel(); ++r) {
    if (labels.data[r] == 0) continue;
    const float* row = logits.data() + r * v;
    counts.correct += std::max_element(row, row + v) - row == labels.data[r];
    ++counts.total;
  }
  return counts;
}

}  // namespace bcqnmt

#include "nn/metrics.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

TokenCounts masked_accuracy(const Tensor& logits, const IndexTensor& labels) {
  const int64_t v = logits.size(-1), rows = labels.numel();
  std::vector<uint8_t> hit(rows, 0);  // per row, so the parallel loop needs no reduction
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (labels.data[r] == 0) continue;
      // argmax == label: the label's logit is the row's maximum and no earlier one equals
      // it (argmax takes the first). max_of is vectorised; max_element is not.
      const float* row = logits.data() + r * v;
      const int64_t label = labels.data[r];
      const float top = max_of(row, v);
      hit[r] = row[label] == top && std::find(row, row + label, top) == row + label;
    }
  });
  TokenCounts counts;
  for (int64_t r = 0; r < rows; ++r) {
    counts.correct += hit[r];
    counts.total += labels.data[r] != 0;
  }
  return counts;
}

}  // namespace bcqnmt

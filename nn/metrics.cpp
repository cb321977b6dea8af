#include "nn/metrics.h"

#include <vector>

#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

Variable masked_cross_entropy(const Linear& head, const Variable& x, const IndexTensor& labels, int64_t* hits) {
  if (head.packed()) {  // the kernel produces outputs, not a fused loss
    const Variable logits = head.forward(x);
    if (hits) *hits = masked_accuracy(logits.value(), labels).correct;
    return masked_loss(logits, labels);
  }
  return linear_cross_entropy(x, head.weight(), head.bias(), labels, /*ignore_index=*/kPadId, hits);
}

TokenCounts masked_accuracy(const Tensor& logits, const IndexTensor& labels) {
  const int64_t v = logits.size(-1), rows = labels.numel();
  std::vector<uint8_t> hit(rows, 0);  // per row, so the parallel loop needs no reduction
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (labels.data[r] == kPadId) continue;
      const float* row = logits.data() + r * v;  // max_of is vectorised; max_element is not
      hit[r] = first_argmax_is(row, labels.data[r], max_of(row, v));
    }
  });
  TokenCounts counts;
  for (int64_t r = 0; r < rows; ++r) {
    counts.correct += hit[r];
    counts.total += labels.data[r] != kPadId;
  }
  return counts;
}

}  // namespace bcqnmt

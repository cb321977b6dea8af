#pragma once
// The reference's training metrics: cross-entropy averaged over non-pad target tokens
// (core's cross_entropy with ignore index 0) and masked token accuracy, and the loss head
// that computes them from a Linear's inputs.
#include "core/ops.h"
#include "core/token_ids.h"
#include "nn/linear.h"

namespace bcqnmt {

struct TokenCounts {
  int64_t correct = 0;
  int64_t total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

// Argmax of logits [B, T, V] against labels [B, T], skipping pad (0) labels.
TokenCounts masked_accuracy(const Tensor& logits, const IndexTensor& labels);

inline Variable masked_loss(const Variable& logits, const IndexTensor& labels) {
  return cross_entropy(logits, labels, /*ignore_index=*/kPadId);
}

// The loss head: masked_loss of head(x) [.., V] read as logits against labels (x's leading
// shape), without materialising the logits (core's linear_cross_entropy, through the
// head's weight transform); `hits` (may be null) counts argmax == label over counted rows.
// A packed head (inference kernel, gradients off) produces its logits and scores them.
Variable masked_cross_entropy(const Linear& head, const Variable& x, const IndexTensor& labels, int64_t* hits);

}  // namespace bcqnmt

#pragma once
// Health signals of a Transformer in training: the numbers that show, early, a model that
// has stopped using its source (docs/training.md, "The collapse"). The trainer logs them
// every `log_every` steps and at each validation; `bcqnmt plot` draws them.
#include <string>
#include <utility>
#include <vector>

#include "nn/transformer.h"

namespace bcqnmt {

// Share of the encoder output's energy that varies across positions, over the real
// (unpadded) positions s < length_b of each sentence b:
//   sum_b sum_s |x_bs - mean_s x_bs|^2  /  sum_b sum_s |x_bs|^2      in [0, 1].
// 0 means every position of a sentence carries the same vector (the decoder can then read
// nothing about word order or content position from it). encoded [B, S, D].
double position_varying_share(const Tensor& encoded, const std::vector<int32_t>& lengths);

// Mean normalised entropy H(p) / ln(n) of attention rows over batch, heads and the rows of
// real query positions, where n >= 2 is the number of keys the row may see; 1 is uniform
// attention, 0 is attention to one key. probabilities [B, H, Tq, Tk]; key_lengths and
// query_lengths per batch entry.
double normalised_attention_entropy(const Tensor& probabilities, const std::vector<int32_t>& key_lengths,
                                    const std::vector<int32_t>& query_lengths);

struct ModelHealth {
  double encoder_position_share = 0.0;   // position_varying_share of the encoder output
  double cross_attention_entropy = 0.0;  // normalised entropy, mean over the decoder layers
};

// Both signals on one batch, in eval mode and without gradients (dropout off): source
// [B, S], target_in [B, T]. Leaves the model's train/eval mode as it found it.
ModelHealth measure_health(Transformer& model, const IndexTensor& source, const IndexTensor& target_in);

// L2 norm of the gradients per parameter group. A parameter's group is its module path
// (its own name dropped) without layer indices, cut to two components:
// "encoder/layer_0/self_attention/mha/query/kernel" -> "encoder/self_attention",
// "encoder/pos_embedding/embedding/embeddings" -> "encoder/pos_embedding",
// "final_layer/kernel" -> "final_layer". Groups appear in parameter order; parameters
// without a gradient count as zero.
std::vector<std::pair<std::string, double>> gradient_norms_by_group(const Module& model);

}  // namespace bcqnmt

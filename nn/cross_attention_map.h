#pragma once
// Where the decoder looked: the last decoder layer's cross-attention probabilities for one
// translation, averaged over heads, for pictures (`bcqnmt plot`) and the web page of
// `bcqnmt serve`. Recorded through MultiHeadAttention's record_probabilities hook.
#include <cstdint>
#include <vector>

#include "nn/transformer.h"

namespace bcqnmt {

// source [1, S] with [START]/[END]; output: the translation's tokens without [START] and
// [END]. Returns [T + 1][S]: row t is the attention of the step that produced output token
// t, the last row that of the step after the last token ([END] when the decoder finished).
// The decoder reads [START] + output in one teacher-forced pass: causal masking makes each
// row equal to the incremental decoder's step. Mean over the H heads. No gradients.
std::vector<std::vector<float>> cross_attention_map(Transformer& model, const IndexTensor& source,
                                                    const std::vector<int32_t>& output);

}  // namespace bcqnmt

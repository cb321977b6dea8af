#pragma once
// Translation by incremental decoding with key/value caches: the encoder runs once, each
// step feeds one token per hypothesis and computes logits for that position only.
// Greedy and beam search, both batched over sentences.
#include <vector>

#include "core/token_ids.h"
#include "nn/transformer.h"

namespace bcqnmt {

struct DecodeOptions {
  int max_length = 128;       // output tokens, [END] excluded
  int beam_size = 1;          // 1 = greedy
  float length_alpha = 0.6f;  // beam: score / ((5 + len) / 6)^alpha (Wu et al. 2016)
};

// The reserved ids of the vocabularies (DESIGN.md section 3).

// source [B, S] with [START]/[END], right-padded -> per sentence the output ids, without
// [START] and stopping before [END].
std::vector<std::vector<int32_t>> translate_batch(const Transformer& model, const IndexTensor& source,
                                                  const DecodeOptions& options);

// Logits of every step of a greedy decode, recomputing the whole decoder each step (no
// cache): the plain reference the cached path is tested against. [steps][B * V]
std::vector<std::vector<float>> greedy_logits_uncached(const Transformer& model, const IndexTensor& source, int steps);
std::vector<std::vector<float>> greedy_logits_cached(const Transformer& model, const IndexTensor& source, int steps);

}  // namespace bcqnmt

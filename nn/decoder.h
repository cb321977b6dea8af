#pragma once
// The decoder: positional embedding, dropout, then N layers of
// x = LN(x + CausalSelfAttention(x)); x = LN(x + CrossAttention(x, encoder)); x = LN(x + FFN(x)).
// forward_step() runs one position for all sentences with per-layer key/value caches.
#include <memory>
#include <vector>

#include "nn/attention_block.h"
#include "nn/feed_forward.h"
#include "nn/positional_embedding.h"

namespace bcqnmt {

// Per-layer caches of one batch being decoded.
struct DecoderCache {
  std::vector<KvCache> self_attention, cross_attention;
  int64_t length = 0;  // positions decoded so far
};

class DecoderLayer : public Module {
 public:
  DecoderLayer(const ModelConfig& config, Rng& rng);
  // x [B, T, D], encoded [B, S, D] -> [B, T, D]
  Variable forward(const Variable& x, const Variable& encoded, const AttentionMask& self_mask,
                   const AttentionMask& cross_mask) const;
  Variable forward_cached(const Variable& x, const Variable& encoded, const AttentionMask& self_mask,
                          const AttentionMask& cross_mask, KvCache& self_cache, KvCache& cross_cache) const;
  AttentionBlock& self_attention() { return self_attention_; }
  AttentionBlock& cross_attention() { return cross_attention_; }
  FeedForward& ffn() { return ffn_; }

 private:
  AttentionBlock self_attention_, cross_attention_;
  FeedForward ffn_;
};

class Decoder : public Module {
 public:
  Decoder(const ModelConfig& config, int64_t vocab_size, Rng& rng);
  // target_in [B, T], encoded [B, S, D] -> [B, T, D]
  Variable forward(const IndexTensor& target_in, const Variable& encoded, const AttentionMask& source_mask) const;
  // tokens [B, 1] at position cache.length -> [B, 1, D]; grows the caches by one position.
  // encoded [C, S, D] and source_mask [C] with C dividing B: groups of B / C consecutive rows
  // share a source (beam search's hypotheses, MultiHeadAttention::forward_cached); encoded is
  // read only while the cross-attention caches are empty.
  Variable forward_step(const IndexTensor& tokens, const Variable& encoded, const AttentionMask& source_mask,
                        DecoderCache& cache) const;
  PositionalEmbedding& pos_embedding() { return pos_embedding_; }
  std::vector<std::unique_ptr<DecoderLayer>>& layers() { return layers_; }

 private:
  PositionalEmbedding pos_embedding_;
  Dropout dropout_;
  std::vector<std::unique_ptr<DecoderLayer>> layers_;
};

// Mask of a right-padded id batch [B, T]: the length of each row (pad id 0 at the end).
AttentionMask padding_mask(const IndexTensor& ids, bool causal);

}  // namespace bcqnmt

#pragma once
// The encoder: positional embedding, dropout, then N layers of
// x = LN(x + SelfAttention(x)); x = LN(x + FFN(x)).
#include <memory>
#include <vector>

#include "nn/attention_block.h"
#include "nn/feed_forward.h"
#include "nn/positional_embedding.h"

namespace bcqnmt {

class EncoderLayer : public Module {
 public:
  EncoderLayer(const ModelConfig& config, Rng& rng);
  Variable forward(const Variable& x, const AttentionMask& mask) const;  // [B, S, D] -> [B, S, D]
  AttentionBlock& self_attention() { return self_attention_; }
  FeedForward& ffn() { return ffn_; }

 private:
  AttentionBlock self_attention_;
  FeedForward ffn_;
};

class Encoder : public Module {
 public:
  Encoder(const ModelConfig& config, int64_t vocab_size, Rng& rng);
  Variable forward(const IndexTensor& source, const AttentionMask& mask) const;  // [B, S] -> [B, S, D]
  PositionalEmbedding& pos_embedding() { return pos_embedding_; }
  std::vector<std::unique_ptr<EncoderLayer>>& layers() { return layers_; }

 private:
  PositionalEmbedding pos_embedding_;
  Dropout dropout_;
  std::vector<std::unique_ptr<EncoderLayer>> layers_;
};

}  // namespace bcqnmt

#pragma once
// A post-LayerNorm residual attention sublayer, as the reference's GlobalSelfAttention,
// CausalSelfAttention and CrossAttention: x = LN(x + MHA(x, context)).
#include "nn/layer_norm.h"
#include "nn/multi_head_attention.h"

namespace bcqnmt {

class AttentionBlock : public Module {
 public:
  AttentionBlock(const ModelConfig& config, Rng& rng);
  // x [B, Tq, D], context [B, Tk, D] (x itself for self-attention) -> [B, Tq, D]
  Variable forward(const Variable& x, const Variable& context, const AttentionMask& mask) const;
  Variable forward_cached(const Variable& x, const Variable& context, const AttentionMask& mask, KvCache& cache,
                          bool grow) const;
  MultiHeadAttention& mha() { return mha_; }

 private:
  MultiHeadAttention mha_;
  LayerNorm layer_norm_;
};

}  // namespace bcqnmt

#pragma once
// A post-LayerNorm residual attention sublayer, as the reference's GlobalSelfAttention,
// CausalSelfAttention and CrossAttention: x = LN(x + MHA(x, context)); LN is the
// config's normalisation (nn/normalization.h).
#include <memory>

#include "nn/multi_head_attention.h"
#include "nn/normalization.h"

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
  std::unique_ptr<Normalization> norm_;
};

}  // namespace bcqnmt

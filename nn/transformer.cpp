#include "nn/transformer.h"

#include "nn/error.h"

namespace bcqnmt {

namespace {
const ModelConfig& checked(const ModelConfig& c) {
  if (c.src_vocab_size <= 4 || c.tgt_vocab_size <= 4)
    throw NnError("model config: vocabulary sizes must be set (got " + std::to_string(c.src_vocab_size) + " / " +
                  std::to_string(c.tgt_vocab_size) + ")");
  return c;
}
}  // namespace

Transformer::Transformer(const ModelConfig& config, uint64_t seed)
    : config_(checked(config)),
      rng_(seed),
      encoder_(config_, config_.src_vocab_size, rng_),
      decoder_(config_, config_.tgt_vocab_size, rng_),
      final_layer_(config_.d_model, config_.tgt_vocab_size, rng_) {
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
  register_module("final_layer", final_layer_);
}

Variable Transformer::forward(const IndexTensor& source, const IndexTensor& target_in) const {
  const AttentionMask source_mask = padding_mask(source, false);
  Variable encoded = encoder_.forward(source, source_mask);                // [B, S, D]
  Variable decoded = decoder_.forward(target_in, encoded, source_mask);   // [B, T, D]
  return final_layer_.forward(decoded);                                    // [B, T, V]
}

}  // namespace bcqnmt

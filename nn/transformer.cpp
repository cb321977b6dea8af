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

Variable Transformer::decode(const IndexTensor& source, const IndexTensor& target_in) const {
  const AttentionMask source_mask = padding_mask(source, false);
  Variable encoded = encoder_.forward(source, source_mask);      // [B, S, D]
  return decoder_.forward(target_in, encoded, source_mask);      // [B, T, D]
}

Variable Transformer::forward(const IndexTensor& source, const IndexTensor& target_in) const {
  return final_layer_.forward(decode(source, target_in));  // [B, T, V]
}

Variable Transformer::masked_loss(const IndexTensor& source, const IndexTensor& target_in,
                                  const IndexTensor& target_out, TokenCounts* counts) const {
  int64_t hits = 0;
  Variable loss = masked_cross_entropy(final_layer_, decode(source, target_in), target_out, &hits);
  if (counts) {
    counts->correct = hits;
    counts->total = 0;
    for (int32_t y : target_out.data) counts->total += y != kPadId;
  }
  return loss;
}

}  // namespace bcqnmt

#include "nn/decoder.h"

#include "core/token_ids.h"

namespace bcqnmt {

AttentionMask padding_mask(const IndexTensor& ids, bool causal) {
  const int64_t b = ids.shape.at(0), t = ids.shape.at(1);
  AttentionMask mask{std::vector<int32_t>(b, 0), causal};
  for (int64_t n = 0; n < b; ++n)
    for (int64_t j = t - 1; j >= 0; --j)
      if (ids.data[n * t + j] != kPadId) {
        mask.key_lengths[n] = static_cast<int32_t>(j + 1);
        break;
      }
  return mask;
}

DecoderLayer::DecoderLayer(const ModelConfig& c, Rng& rng) : self_attention_(c, rng), cross_attention_(c, rng), ffn_(c, rng) {
  register_module("causal_self_attention", self_attention_);
  register_module("cross_attention", cross_attention_);
  register_module("ffn", ffn_);
}

Variable DecoderLayer::forward(const Variable& x, const Variable& encoded, const AttentionMask& self_mask,
                               const AttentionMask& cross_mask) const {
  Variable h = self_attention_.forward(x, x, self_mask);
  h = cross_attention_.forward(h, encoded, cross_mask);
  return ffn_.forward(h);
}

Variable DecoderLayer::forward_cached(const Variable& x, const Variable& encoded, const AttentionMask& self_mask,
                                      const AttentionMask& cross_mask, KvCache& self_cache, KvCache& cross_cache) const {
  Variable h = self_attention_.forward_cached(x, x, self_mask, self_cache, true);
  h = cross_attention_.forward_cached(h, encoded, cross_mask, cross_cache, false);
  return ffn_.forward(h);
}

Decoder::Decoder(const ModelConfig& c, int64_t vocab_size, Rng& rng)
    : pos_embedding_(vocab_size, c.d_model, c.max_positions, rng), dropout_(c.dropout_rate, rng) {
  register_module("pos_embedding", pos_embedding_);
  register_module("dropout", dropout_);  // no parameters, but it follows train/eval
  for (int i = 0; i < c.num_layers; ++i) {
    layers_.push_back(std::make_unique<DecoderLayer>(c, rng));
    register_module("layer_" + std::to_string(i), *layers_.back());
  }
}

Variable Decoder::forward(const IndexTensor& target_in, const Variable& encoded, const AttentionMask& source_mask) const {
  const AttentionMask self_mask = padding_mask(target_in, true);
  Variable x = dropout_.forward(pos_embedding_.forward(target_in));  // [B, T, D]
  for (const auto& layer : layers_) x = layer->forward(x, encoded, self_mask, source_mask);
  return x;
}

Variable Decoder::forward_step(const IndexTensor& tokens, const Variable& encoded, const AttentionMask& source_mask,
                               DecoderCache& cache) const {
  const int64_t b = tokens.shape.at(0);
  if (cache.self_attention.empty()) {
    cache.self_attention.resize(layers_.size());
    cache.cross_attention.resize(layers_.size());
  }
  // Every cached position is a real token: the self-attention mask is just the length.
  const AttentionMask self_mask{std::vector<int32_t>(b, static_cast<int32_t>(cache.length + 1)), true};
  Variable x = dropout_.forward(pos_embedding_.forward(tokens, cache.length));  // [B, 1, D]
  for (size_t i = 0; i < layers_.size(); ++i)
    x = layers_[i]->forward_cached(x, encoded, self_mask, source_mask, cache.self_attention[i],
                                   cache.cross_attention[i]);
  ++cache.length;
  return x;
}

}  // namespace bcqnmt

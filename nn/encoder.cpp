#include "nn/encoder.h"

namespace bcqnmt {

EncoderLayer::EncoderLayer(const ModelConfig& c, Rng& rng) : self_attention_(c, rng), ffn_(c, rng) {
  register_module("self_attention", self_attention_);
  register_module("ffn", ffn_);
}

Variable EncoderLayer::forward(const Variable& x, const AttentionMask& mask) const {
  return ffn_.forward(self_attention_.forward(x, x, mask));
}

Encoder::Encoder(const ModelConfig& c, int64_t vocab_size, Rng& rng)
    : pos_embedding_(vocab_size, c.d_model, c.max_positions, rng), dropout_(c.dropout_rate, rng) {
  register_module("pos_embedding", pos_embedding_);
  register_module("dropout", dropout_);  // no parameters, but it follows train/eval
  for (int i = 0; i < c.num_layers; ++i) {
    layers_.push_back(std::make_unique<EncoderLayer>(c, rng));
    register_module("layer_" + std::to_string(i), *layers_.back());
  }
}

Variable Encoder::forward(const IndexTensor& source, const AttentionMask& mask) const {
  Variable x = dropout_.forward(pos_embedding_.forward(source));  // [B, S, D]
  for (const auto& layer : layers_) x = layer->forward(x, mask);
  return x;
}

}  // namespace bcqnmt

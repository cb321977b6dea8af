#pragma once
// The reference Transformer (docs/reference.md §1): encoder, decoder and an untied final
// Dense(D -> V_target) producing logits.
#include "nn/decoder.h"
#include "nn/encoder.h"
#include "nn/metrics.h"

namespace bcqnmt {

class Transformer : public Module {
 public:
  // The generator seeds initialisation and then drives every dropout mask.
  Transformer(const ModelConfig& config, uint64_t seed);
  // source [B, S], target_in [B, T] -> logits [B, T, V]
  Variable forward(const IndexTensor& source, const IndexTensor& target_in) const;
  // Training and evaluation: the masked loss of predicting target_out [B, T] (pad 0 not
  // counted), equal to masked_loss(forward(...), target_out) but without the [B, T, V]
  // logits (core linear_cross_entropy). `counts`, if given, receives masked accuracy.
  Variable masked_loss(const IndexTensor& source, const IndexTensor& target_in, const IndexTensor& target_out,
                       TokenCounts* counts = nullptr) const;

  const ModelConfig& config() const { return config_; }
  Rng& rng() { return rng_; }
  Encoder& encoder() { return encoder_; }
  Decoder& decoder() { return decoder_; }
  Linear& final_layer() { return final_layer_; }
  const Encoder& encoder() const { return encoder_; }
  const Decoder& decoder() const { return decoder_; }
  const Linear& final_layer() const { return final_layer_; }

 private:
  Variable decode(const IndexTensor& source, const IndexTensor& target_in) const;  // -> [B, T, D]

  ModelConfig config_;
  Rng rng_;
  Encoder encoder_;
  Decoder decoder_;
  Linear final_layer_;
};

}  // namespace bcqnmt

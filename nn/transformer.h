#pragma once
// The reference Transformer (DESIGN.md section 1): encoder, decoder and an untied final
// Dense(D -> V_target) producing logits.
#include "nn/decoder.h"
#include "nn/encoder.h"

namespace bcqnmt {

class Transformer : public Module {
 public:
  // The generator seeds initialisation and then drives every dropout mask.
  Transformer(const ModelConfig& config, uint64_t seed);
  // source [B, S], target_in [B, T] -> logits [B, T, V]
  Variable forward(const IndexTensor& source, const IndexTensor& target_in) const;

  const ModelConfig& config() const { return config_; }
  Rng& rng() { return rng_; }
  Encoder& encoder() { return encoder_; }
  Decoder& decoder() { return decoder_; }
  Linear& final_layer() { return final_layer_; }
  const Encoder& encoder() const { return encoder_; }
  const Decoder& decoder() const { return decoder_; }
  const Linear& final_layer() const { return final_layer_; }

 private:
  ModelConfig config_;
  Rng rng_;
  Encoder encoder_;
  Decoder decoder_;
  Linear final_layer_;
};

}  // namespace bcqnmt

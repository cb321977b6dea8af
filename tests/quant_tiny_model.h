#pragma once
// The tiny Transformer the whole-model BCQ tests quantize: 2 layers, d_model 16, 2 heads
// of 8, vocabularies 20 / 24, no dropout (so quantized and dense forwards compare exactly).
#include "nn/model_config.h"

namespace bcqnmt::test {

inline ModelConfig quant_tiny_config() {
  ModelConfig c;
  c.num_layers = 2;
  c.d_model = 16;
  c.dff = 32;
  c.num_heads = 2;
  c.key_dim = 8;
  c.dropout_rate = 0.0f;
  c.max_positions = 64;
  c.src_vocab_size = 20;
  c.tgt_vocab_size = 24;
  return c;
}

}  // namespace bcqnmt::test

// docs/transformer.md: the shape of every tensor on the way through a tiny Transformer,
// computed by calling the same modules Transformer::forward calls.
#pragma once
#include <ostream>

#include "nn/decoding.h"
#include "nn/transformer.h"

namespace bcqnmt::examples {

inline void run_example_transformer_shapes(std::ostream& out) {
  ModelConfig c;  // small.json's structure, scaled down: D = 16, F = 32, H = 2, K = 8
  c.num_layers = 2;
  c.d_model = 16;
  c.dff = 32;
  c.num_heads = 2;
  c.key_dim = 8;
  c.src_vocab_size = 50;
  c.tgt_vocab_size = 40;
  Transformer model(c, 1);
  model.eval();
  NoGradGuard no_grad;

  // B = 2 sentences, S = 5 source tokens, T = 4 target tokens; 0 pads on the right.
  const IndexTensor source{{2, 5}, {kStartId, 7, 8, 9, kEndId, kStartId, 10, kEndId, 0, 0}};
  const IndexTensor target_in{{2, 4}, {kStartId, 11, 12, 13, kStartId, 14, 0, 0}};
  auto shape = [](const Variable& v) { return shape_str(v.shape()); };

  const AttentionMask source_mask = padding_mask(source, false);
  out << "source ids [B, S]                   " << shape_str(source.shape) << ", key_lengths "
      << source_mask.key_lengths[0] << " " << source_mask.key_lengths[1] << "\n";
  Variable x = model.encoder().pos_embedding().forward(source);
  out << "embedding * sqrt(D) + PE [B, S, D]  " << shape(x) << "\n";
  EncoderLayer& layer = *model.encoder().layers()[0];
  MultiHeadAttention& mha = layer.self_attention().mha();
  out << "query projection [B, S, H*K]        " << shape(mha.query().forward(x)) << "\n";
  x = layer.self_attention().forward(x, x, source_mask);
  out << "after self-attention block [B,S,D]  " << shape(x) << "\n";
  out << "FFN inner relu(x W1 + b1) [B, S, F] " << shape(relu(layer.ffn().inner().forward(x))) << "\n";
  Variable encoded = model.encoder().forward(source, source_mask);
  out << "encoder output [B, S, D]            " << shape(encoded) << "\n";
  Variable h = model.decoder().forward(target_in, encoded, source_mask);
  out << "decoder output [B, T, D]            " << shape(h) << "\n";
  out << "logits [B, T, V]                    " << shape(model.final_layer().forward(h)) << "\n";
  out << "parameters                          " << model.num_parameters() << "\n";
  for (const auto& [name, p] : model.named_parameters())
    if (name.starts_with("decoder/layer_0/cross_attention/"))
      out << "  " << name << " " << shape(p) << "\n";
}

}  // namespace bcqnmt::examples

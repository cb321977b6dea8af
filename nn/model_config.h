#pragma once
// The model's hyper-parameters, read from the "model" object of a JSON config
// (configs/small.json is the reference model of docs/reference.md §1).
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/name_table.h"

namespace bcqnmt {

// Residual-block normalisation (nn/normalization.h): LayerNorm (the reference) or RMSNorm
// (Zhang & Sennrich 2019). Its name is also the module name the blocks register it under.
enum class Norm { layer_norm, rms_norm };
const NameTable<Norm>& norm_names();  // "layer_norm", "rms_norm"

struct ModelConfig {
  int num_layers = 4;
  int d_model = 128;
  int dff = 512;
  int num_heads = 8;
  int key_dim = 128;  // per head; Keras MultiHeadAttention(key_dim=d_model) in the reference
  float dropout_rate = 0.1f;
  float layer_norm_epsilon = 1e-3f;  // the Keras default; also RMSNorm's epsilon
  // "norm": to_json() writes it only when not the default, so runs started before the key
  // existed keep their model identity.
  Norm norm = Norm::layer_norm;
  // A gated feed-forward sublayer, ReGLU (Shazeer 2020, "GLU Variants Improve Transformer"):
  // relu(x W1) * (x Wg) before the second dense layer, one more [D, F] weight per FFN. Off
  // in the reference; docs/extending.md adds it as the worked example of a new weight
  // matrix. to_json() writes it only when on.
  bool ffn_gate = false;
  int max_positions = 2048;          // length of the sinusoidal table, as the reference
  int src_vocab_size = 0;            // set from the vocabulary files, not the config
  int tgt_vocab_size = 0;

  // Unknown keys, wrong types and out-of-range values throw NnError naming the key.
  static ModelConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;  // includes the vocabulary sizes
  // Every key with its value, "norm" and "ffn_gate" included at their defaults: what a run
  // manifest records as the resolved config (to_json() is the model's identity in files).
  nlohmann::json resolved_json() const;
  // The weights of the embeddings, attention (Q, K, V [D, H*K], output [H*K, D]), FFN
  // ([D, F], [F, D], + [D, F] gated) and final layer, counted without allocating them:
  // what size bounds are checked against (biases and LayerNorm not counted).
  int64_t matrix_weights() const;
};

}  // namespace bcqnmt

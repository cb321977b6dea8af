#include "nn/model_config.h"

#include <nlohmann/json.hpp>

#include "nn/error.h"
#include "nn/json_fields.h"

namespace bcqnmt {

namespace {

// Every key with its value: the known keys and their types for reading. to_json() leaves
// out the keys added after the first runs while they hold their defaults.
nlohmann::json all_fields(const ModelConfig& c) {
  return {{"num_layers", c.num_layers},
          {"d_model", c.d_model},
          {"dff", c.dff},
          {"num_heads", c.num_heads},
          {"key_dim", c.key_dim},
          {"dropout_rate", c.dropout_rate},
          {"layer_norm_epsilon", c.layer_norm_epsilon},
          {"max_positions", c.max_positions},
          {"src_vocab_size", c.src_vocab_size},
          {"tgt_vocab_size", c.tgt_vocab_size},
          {"norm", norm_names().name(c.norm)},
          {"ffn_gate", c.ffn_gate}};
}

// 2^30 parameters: 4 GB of fp32 weights, 16 GB with Adam's moments and the gradients; the
// reference model has 10.2 M.
constexpr int64_t kMaxParameters = int64_t{1} << 30;

}  // namespace

const NameTable<Norm>& norm_names() {
  static const NameTable<Norm> names("\"norm\"", {{Norm::layer_norm, "layer_norm"}, {Norm::rms_norm, "rms_norm"}});
  return names;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  const JsonFields<NnError> fields(j, all_fields(c), "model config");
  // Upper bounds far above any model this CPU trainer can train, below what overflows the
  // size arithmetic: 256 layers, d_model/dff/key_dim 65,536, 1,024 heads, 2^20 positions
  // and vocabulary entries.
  fields.get("num_layers", c.num_layers, 1, 256);
  fields.get("d_model", c.d_model, 2, 1 << 16);
  fields.get("dff", c.dff, 1, 1 << 16);
  fields.get("num_heads", c.num_heads, 1, 1 << 10);
  fields.get("key_dim", c.key_dim, 1, 1 << 16);
  fields.get("dropout_rate", c.dropout_rate, 0.0f);
  fields.get("layer_norm_epsilon", c.layer_norm_epsilon, 0.0f);
  fields.get("max_positions", c.max_positions, 1, 1 << 20);
  fields.get("src_vocab_size", c.src_vocab_size, 0, 1 << 20);
  fields.get("tgt_vocab_size", c.tgt_vocab_size, 0, 1 << 20);
  fields.get("norm", c.norm, norm_names());
  fields.get("ffn_gate", c.ffn_gate);
  if (c.d_model % 2) throw NnError("model config: \"d_model\" must be even (sin | cos positional halves)");
  if (c.dropout_rate >= 1.0f) throw NnError("model config: \"dropout_rate\" must be < 1");
  if (const int64_t n = c.matrix_weights(); n > kMaxParameters)
    throw NnError("model config: " + std::to_string(n) + " weights exceed the bound of " +
                  std::to_string(kMaxParameters) + " (4 GB of fp32 weights, 16 GB with Adam); reduce num_layers, "
                  "d_model, dff, num_heads or key_dim");
  return c;
}

int64_t ModelConfig::matrix_weights() const {
  const int64_t d = d_model, attention = 4 * d * num_heads * key_dim;
  const int64_t ffn = (ffn_gate ? 3 : 2) * d * dff;
  return num_layers * (attention + ffn) + num_layers * (2 * attention + ffn) +
         (int64_t{src_vocab_size} + 2 * int64_t{tgt_vocab_size}) * d;
}

nlohmann::json ModelConfig::resolved_json() const { return all_fields(*this); }

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = all_fields(*this);
  if (norm == Norm::layer_norm) j.erase("norm");
  if (!ffn_gate) j.erase("ffn_gate");
  return j;
}

}  // namespace bcqnmt

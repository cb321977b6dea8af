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

}  // namespace

const NameTable<Norm>& norm_names() {
  static const NameTable<Norm> names("\"norm\"", {{Norm::layer_norm, "layer_norm"}, {Norm::rms_norm, "rms_norm"}});
  return names;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  const JsonFields<NnError> fields(j, all_fields(c), "model config");
  fields.get("num_layers", c.num_layers, 1);
  fields.get("d_model", c.d_model, 2);
  fields.get("dff", c.dff, 1);
  fields.get("num_heads", c.num_heads, 1);
  fields.get("key_dim", c.key_dim, 1);
  fields.get("dropout_rate", c.dropout_rate, 0.0f);
  fields.get("layer_norm_epsilon", c.layer_norm_epsilon, 0.0f);
  fields.get("max_positions", c.max_positions, 1);
  fields.get("src_vocab_size", c.src_vocab_size, 0);
  fields.get("tgt_vocab_size", c.tgt_vocab_size, 0);
  fields.get("norm", c.norm, norm_names());
  fields.get("ffn_gate", c.ffn_gate);
  if (c.d_model % 2) throw NnError("model config: \"d_model\" must be even (sin | cos positional halves)");
  if (c.dropout_rate >= 1.0f) throw NnError("model config: \"dropout_rate\" must be < 1");
  return c;
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = all_fields(*this);
  if (norm == Norm::layer_norm) j.erase("norm");
  if (!ffn_gate) j.erase("ffn_gate");
  return j;
}

}  // namespace bcqnmt

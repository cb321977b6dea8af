#include "nn/model_config.h"

#include <nlohmann/json.hpp>

#include "nn/error.h"

namespace bcqnmt {

namespace {
template <class T>
void read(const nlohmann::json& j, const char* key, T& out, T min_value) {
  if (!j.contains(key)) return;
  const auto& v = j.at(key);
  if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) throw NnError(std::string("model config: \"") + key + "\" must be an integer");
  } else {
    if (!v.is_number()) throw NnError(std::string("model config: \"") + key + "\" must be a number");
  }
  out = v.get<T>();
  if (out < min_value)
    throw NnError(std::string("model config: \"") + key + "\" must be >= " + std::to_string(min_value));
}
}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw NnError("model config: expected a JSON object");
  static const char* known[] = {"num_layers", "d_model",        "dff",           "num_heads",     "key_dim",
                                "dropout_rate", "layer_norm_epsilon", "max_positions", "src_vocab_size",
                                "tgt_vocab_size", "norm", "ffn_gate"};
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) throw NnError("model config: unknown key \"" + key + "\"");
  }
  ModelConfig c;
  read(j, "num_layers", c.num_layers, 1);
  read(j, "d_model", c.d_model, 2);
  read(j, "dff", c.dff, 1);
  read(j, "num_heads", c.num_heads, 1);
  read(j, "key_dim", c.key_dim, 1);
  read(j, "dropout_rate", c.dropout_rate, 0.0f);
  read(j, "layer_norm_epsilon", c.layer_norm_epsilon, 0.0f);
  read(j, "max_positions", c.max_positions, 1);
  read(j, "src_vocab_size", c.src_vocab_size, 0);
  read(j, "tgt_vocab_size", c.tgt_vocab_size, 0);
  if (j.contains("norm")) {
    if (!j.at("norm").is_string()) throw NnError("model config: \"norm\" must be a string");
    c.norm = j.at("norm").get<std::string>();
    if (c.norm != "layer_norm" && c.norm != "rms_norm")
      throw NnError("model config: \"norm\" must be \"layer_norm\" or \"rms_norm\", not \"" + c.norm + "\"");
  }
  if (j.contains("ffn_gate")) {
    if (!j.at("ffn_gate").is_boolean()) throw NnError("model config: \"ffn_gate\" must be true or false");
    c.ffn_gate = j.at("ffn_gate").get<bool>();
  }
  if (c.d_model % 2) throw NnError("model config: \"d_model\" must be even (sin | cos positional halves)");
  if (c.dropout_rate >= 1.0f) throw NnError("model config: \"dropout_rate\" must be < 1");
  return c;
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = {{"num_layers", num_layers},         {"d_model", d_model},
          {"dff", dff},                       {"num_heads", num_heads},
          {"key_dim", key_dim},               {"dropout_rate", dropout_rate},
          {"layer_norm_epsilon", layer_norm_epsilon}, {"max_positions", max_positions},
          {"src_vocab_size", src_vocab_size}, {"tgt_vocab_size", tgt_vocab_size}};
  if (norm != "layer_norm") j["norm"] = norm;
  if (ffn_gate) j["ffn_gate"] = true;
  return j;
}

}  // namespace bcqnmt

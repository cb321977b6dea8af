#include "nn/model_config.h"

#include <nlohmann/json.hpp>

#include "nn/error.h"

namespace bcqnmt {

namespace {
// Reads an integer as int64 before narrowing, so 4294967298 is out of range rather than a
// 2-head model; `max_value` is a sane upper bound checked before anything is allocated.
void read(const nlohmann::json& j, const char* key, int& out, int64_t min_value, int64_t max_value) {
  if (!j.contains(key)) return;
  const auto& v = j.at(key);
  if (!v.is_number_integer()) throw NnError(std::string("model config: \"") + key + "\" must be an integer");
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(max_value)
                                           : v.get<int64_t>() >= min_value && v.get<int64_t>() <= max_value;
  if (!fits)
    throw NnError(std::string("model config: \"") + key + "\" = " + v.dump() + " is out of range (" +
                  std::to_string(min_value) + ".." + std::to_string(max_value) + ")");
  out = static_cast<int>(v.get<int64_t>());
}

void read(const nlohmann::json& j, const char* key, float& out, float min_value) {
  if (!j.contains(key)) return;
  const auto& v = j.at(key);
  if (!v.is_number()) throw NnError(std::string("model config: \"") + key + "\" must be a number");
  out = v.get<float>();
  if (!(out >= min_value))
    throw NnError(std::string("model config: \"") + key + "\" must be >= " + std::to_string(min_value));
}

// 2^30 parameters: 4 GB of fp32 weights, 16 GB with Adam's moments and the gradients; the
// reference model has 10.2 M.
constexpr int64_t kMaxParameters = int64_t{1} << 30;
}  // namespace

int64_t ModelConfig::matrix_weights() const {
  const int64_t d = d_model, attention = 4 * d * num_heads * key_dim;
  const int64_t ffn = (ffn_gate ? 3 : 2) * d * dff;
  return num_layers * (attention + ffn) + num_layers * (2 * attention + ffn) +
         (int64_t{src_vocab_size} + 2 * int64_t{tgt_vocab_size}) * d;
}

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
  // Upper bounds far above any model this CPU trainer can train, below what overflows the
  // size arithmetic: 256 layers, d_model/dff/key_dim 65,536, 1,024 heads, 2^20 positions
  // and vocabulary entries.
  read(j, "num_layers", c.num_layers, 1, 256);
  read(j, "d_model", c.d_model, 2, 1 << 16);
  read(j, "dff", c.dff, 1, 1 << 16);
  read(j, "num_heads", c.num_heads, 1, 1 << 10);
  read(j, "key_dim", c.key_dim, 1, 1 << 16);
  read(j, "dropout_rate", c.dropout_rate, 0.0f);
  read(j, "layer_norm_epsilon", c.layer_norm_epsilon, 0.0f);
  read(j, "max_positions", c.max_positions, 1, 1 << 20);
  read(j, "src_vocab_size", c.src_vocab_size, 0, 1 << 20);
  read(j, "tgt_vocab_size", c.tgt_vocab_size, 0, 1 << 20);
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
  if (const int64_t n = c.matrix_weights(); n > kMaxParameters)
    throw NnError("model config: " + std::to_string(n) + " weights exceed the bound of " +
                  std::to_string(kMaxParameters) + " (4 GB of fp32 weights, 16 GB with Adam); reduce num_layers, "
                  "d_model, dff, num_heads or key_dim");
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

#include "quant/bit_allocation.h"

#include <filesystem>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/quoted_text.h"
#include "nn/json_fields.h"
#include "nn/json_file.h"
#include "nn/module.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

constexpr const char* kRatioKey = "embedding_cluster_ratio";
constexpr double kMaxClusterRatio = 1000.0;

}  // namespace

const std::vector<std::pair<const char*, int BitAllocation::*>>& bit_allocation_fields() {
  static const std::vector<std::pair<const char*, int BitAllocation::*>> fields{
      {"embedding", &BitAllocation::embedding},
      {"encoder_self_attention", &BitAllocation::encoder_self_attention},
      {"encoder_ffn", &BitAllocation::encoder_ffn},
      {"decoder_self_attention", &BitAllocation::decoder_self_attention},
      {"cross_attention", &BitAllocation::cross_attention},
      {"decoder_ffn", &BitAllocation::decoder_ffn},
      {"final_layer", &BitAllocation::final_layer}};
  return fields;
}

const BitGroup* bit_group_of(const std::string& layer_path) {
  static const BitGroup rules[] = {
      {"encoder", "pos_embedding", &BitAllocation::embedding},
      {"decoder", "pos_embedding", &BitAllocation::embedding},
      {"encoder", "self_attention", &BitAllocation::encoder_self_attention},
      {"encoder", "ffn", &BitAllocation::encoder_ffn},
      {"decoder", "causal_self_attention", &BitAllocation::decoder_self_attention},
      {"decoder", "cross_attention", &BitAllocation::cross_attention},
      {"decoder", "ffn", &BitAllocation::decoder_ffn},
      {"final_layer", "", &BitAllocation::final_layer},
  };
  const std::vector<std::string> parts = path_components(layer_path);
  for (const BitGroup& rule : rules) {
    if (parts.front() != rule.top) continue;
    if (rule.sublayer[0] == '\0') return &rule;
    for (const std::string& part : parts)
      if (part == rule.sublayer) return &rule;
  }
  return nullptr;
}

BitAllocation BitAllocation::uniform(int bits) {
  BitAllocation a;
  for (const auto& [key, field] : bit_allocation_fields()) a.*field = bits;
  return a;
}

BitAllocation bit_allocation_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw QuantError(source + ": bit allocation must be a JSON object");
  BitAllocation a;
  const auto fields = bit_allocation_fields();
  // Unknown keys first, so the error lists the known ones (JsonFields names only the stranger).
  for (const auto& [key, value] : j.items()) {
    bool known = key == kRatioKey;
    for (const auto& [name, field] : fields) known = known || key == name;
    if (!known) {
      std::string expected = kRatioKey;
      for (const auto& [name, field] : fields) expected += std::string(", ") + name;
      throw QuantError(source + ": unknown key '" + quoted_text(key) + "' (expected " + expected + ")");
    }
  }
  // Each bit count range-checked as a 64-bit integer before it becomes an int, so
  // 4294967298 is out of 1..8 rather than 2.
  const JsonFields<QuantError> checked(j, bit_allocation_to_json(a), source);
  for (const auto& [name, field] : fields) checked.get(name, a.*field, 1, 8);
  if (j.contains(kRatioKey)) {
    // Clusters sized 1 : r : r^2 : r^3 (quant/frequency_clusters.h); past r = 1000 the first
    // cluster is under 1e-9 of the rows, and r^3 overflows long before 1e300.
    const nlohmann::json& value = j.at(kRatioKey);
    if (!(value.get<double>() >= 0.0 && value.get<double>() <= kMaxClusterRatio))
      throw QuantError(source + ": '" + std::string(kRatioKey) + "' must be a number in 0.." +
                       std::to_string(int(kMaxClusterRatio)) + " (0 = no frequency clusters), got " + value.dump());
    a.embedding_cluster_ratio = value.get<double>();
  }
  return a;
}

BitAllocation load_bit_allocation(const std::string& path) {
  if (!std::filesystem::exists(path)) throw QuantError(path + ": cannot open bit allocation file");
  return bit_allocation_from_json(read_json_file<QuantError>(path), path);
}

nlohmann::json bit_allocation_to_json(const BitAllocation& a) {
  nlohmann::json j;
  for (const auto& [key, field] : bit_allocation_fields()) j[key] = a.*field;
  j[kRatioKey] = a.embedding_cluster_ratio;
  return j;
}

}  // namespace bcqnmt

#pragma once
// Bits per parameter group of the Transformer, for mixed-precision BCQ (Chung et al.,
// "Extremely Low Bit Transformer Quantization for On-Device NMT", Findings of EMNLP 2020).
// Their best setting: embeddings in 4/3/2/1-bit frequency clusters, encoder self-attention 3,
// encoder FFN 4, decoder self-attention 2, cross-attention 3, decoder FFN 1 (~2.6 bits on
// average). Biases and LayerNorm parameters are never quantized.
//
// JSON form (every key optional, unknown keys are an error so a typo cannot silently fall
// back to a default):
//   {"embedding": 3, "embedding_cluster_ratio": 4.0, "encoder_self_attention": 3,
//    "encoder_ffn": 4, "decoder_self_attention": 2, "cross_attention": 3, "decoder_ffn": 1,
//    "final_layer": 3}
// embedding_cluster_ratio > 0 switches the embeddings (both of them) to frequency clusters
// (quant/frequency_clusters.h) and then "embedding" is not used.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bcqnmt {

struct BitAllocation {
  int embedding = 3;
  double embedding_cluster_ratio = 0.0;
  int encoder_self_attention = 3;
  int encoder_ffn = 3;
  int decoder_self_attention = 3;
  int cross_attention = 3;
  int decoder_ffn = 3;
  int final_layer = 3;

  static BitAllocation uniform(int bits);
  bool embedding_uses_clusters() const { return embedding_cluster_ratio > 0.0; }
};

// The bit group of a quantized weight matrix, by the module path of the layer holding it
// ("encoder/layer_0/ffn/dense_0" -> encoder_ffn): the one place where the model's structure
// meets BitAllocation. A path belongs to the first rule whose top-level module is its first
// component and whose sub-layer is one of its components (any, for an empty sub-layer).
// So a Linear added anywhere inside an existing sub-layer ("encoder/layer_0/ffn/gate") joins
// that sub-layer's group; a new kind of sub-layer needs a rule here. nullptr: no group.
struct BitGroup {
  const char* top;       // "encoder", "decoder", "final_layer"
  const char* sublayer;  // a path component, "" for any
  int BitAllocation::*bits;
};
const BitGroup* bit_group_of(const std::string& layer_path);

// The groups by their JSON key ("embedding", "encoder_self_attention", ... "final_layer"),
// in that order: one table serves reading, writing, checking and per-group sweeps.
const std::vector<std::pair<const char*, int BitAllocation::*>>& bit_allocation_fields();

// `source` names the origin in error messages (a file path, "--bits-json").
BitAllocation bit_allocation_from_json(const nlohmann::json& j, const std::string& source);
BitAllocation load_bit_allocation(const std::string& path);
nlohmann::json bit_allocation_to_json(const BitAllocation& a);

}  // namespace bcqnmt

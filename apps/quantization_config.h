#pragma once
// The "quantization" object of a config file: quantization-aware training after
// pretraining. Command-line flags of `bcqnmt quantize` override it.
//   {"bits": 3, "bits_config": "", "solver": "greedy", "mode": "projection", "epochs": 30,
//    "project_every": 0, "cycles": 2, "group_size": 0, "distill_weight": 0.0}
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bcqnmt {

// The modes' names: "projection" and "ste" train (quantization-aware training), "ptq"
// quantizes the pretrained weights once (post-training quantization). Config validation and
// the command line read them here.
const std::vector<std::string>& quantization_mode_names();

struct QuantizationConfig {
  int bits = 3;                    // every group, unless bits_config names a per-group file
  std::string bits_config;         // JSON bit allocation (quant/bit_allocation.h)
  std::string solver = "greedy";   // the reference's; "refined_greedy", "alternating"
  std::string mode = "projection";  // or "ste", "ptq"
  int epochs = 30;
  int64_t project_every = 0;  // steps between projections; 0: once per epoch (the reference)
  int cycles = 2;             // alternating solver
  int64_t group_size = 0;     // columns per alpha group; 0: one alpha set per row
  // Token-level knowledge distillation from the fp32 model (nn/distillation.h): the weight
  // of the KL term in the loss, 0..1; 0 trains on the labels alone (the reference).
  double distill_weight = 0.0;

  static QuantizationConfig from_json(const nlohmann::json& j);  // unknown keys are errors
  nlohmann::json to_json() const;
};

}  // namespace bcqnmt

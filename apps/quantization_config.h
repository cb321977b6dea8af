#pragma once
// The "quantization" object of a config file: quantization-aware training after
// pretraining. Command-line flags of `bcqnmt quantize` override it.
//   {"bits": 3, "bits_config": "", "solver": "greedy", "mode": "projection", "epochs": 30,
//    "project_every": 0, "cycles": 2, "group_size": 0}
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bcqnmt {

// The training modes' names ("projection", "ste"): config validation and the command line.
const std::vector<std::string>& quantization_mode_names();

struct QuantizationConfig {
  int bits = 3;                    // every group, unless bits_config names a per-group file
  std::string bits_config;         // JSON bit allocation (quant/bit_allocation.h)
  std::string solver = "greedy";   // the reference's; "refined_greedy", "alternating"
  std::string mode = "projection";  // or "ste"
  int epochs = 30;
  int64_t project_every = 0;  // steps between projections; 0: once per epoch (the reference)
  int cycles = 2;             // alternating solver
  int64_t group_size = 0;     // columns per alpha group; 0: one alpha set per row

  static QuantizationConfig from_json(const nlohmann::json& j);  // unknown keys are errors
  nlohmann::json to_json() const;
};

}  // namespace bcqnmt

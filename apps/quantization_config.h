#pragma once
// The "quantization" object of a config file: quantization-aware training after
// pretraining. Command-line flags of `bcqnmt quantize` override it.
//   {"bits": 3, "bits_config": "", "solver": "greedy", "mode": "projection", "epochs": 30,
//    "project_every": 0, "cycles": 2, "group_size": 0, "distill_weight": 0.0}
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/name_table.h"
#include "quant/bcq_solvers.h"

namespace bcqnmt {

// projection and ste train (quantization-aware training: the reference's periodic
// projection, or the straight-through estimator); ptq quantizes the pretrained weights once
// (post-training quantization).
enum class QuantizationMode { projection, ste, ptq };
const NameTable<QuantizationMode>& quantization_mode_names();  // "projection", "ste", "ptq"

// The solver's settings start from BcqOptions' defaults (quant/bcq_solvers.h), their one owner.
struct QuantizationConfig {
  int bits = BcqOptions{}.bits;      // every group, unless bits_config names a per-group file
  std::string bits_config;           // JSON bit allocation (quant/bit_allocation.h)
  BcqMethod solver = BcqOptions{}.method;  // names: bcq_method_names()
  QuantizationMode mode = QuantizationMode::projection;
  int epochs = 30;
  int64_t project_every = 0;  // steps between projections; 0: once per epoch (the reference)
  int cycles = BcqOptions{}.cycles;          // alternating solver
  int64_t group_size = BcqOptions{}.group_size;  // columns per alpha group; 0: one alpha set per row
  // Token-level knowledge distillation from the fp32 model (nn/distillation.h): the weight
  // of the KL term in the loss, 0..1; 0 trains on the labels alone (the reference).
  double distill_weight = 0.0;

  // The solver's options (solver.bits: `bits`; a bit allocation overrides it per group).
  BcqOptions solver_options() const { return {bits, group_size, solver, cycles}; }

  static QuantizationConfig from_json(const nlohmann::json& j);  // unknown keys are errors
  nlohmann::json to_json() const;
};

}  // namespace bcqnmt

#pragma once
// The "quantization" object of a config file: quantization-aware training after
// pretraining. Command-line flags of `bcqnmt quantize` override it.
//   {"bits": 3, "bits_config": "", "solver": "greedy", "mode": "projection", "epochs": 30,
//    "project_every": 0, "cycles": 2, "group_size": 0, "distill_weight": 0.0,
//    "lr_schedule": "noam", "learning_rate": 0.0005, "lr_warmup_steps": 100}
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

// The learning rate of the training modes (optim/learning_rate_schedule.h). noam: pretraining's
// schedule counted again from step 1 with the run's "warmup_steps", as the reference does
// (with the fast recipe's 1,600 warm-up steps, three 318-step epochs only ever warm up);
// linear_decay: up to "learning_rate" over "lr_warmup_steps", then down on a line that
// reaches 0 one step after the last step of "epochs" (docs/bcq.md, "Training with quantized
// weights", has the comparison). "learning_rate" and "lr_warmup_steps" are errors under noam.
enum class LearningRateShape { noam, linear_decay };
const NameTable<LearningRateShape>& learning_rate_shape_names();  // "noam", "linear_decay"

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
  LearningRateShape lr_schedule = LearningRateShape::noam;
  double learning_rate = 5e-4;  // linear_decay's peak
  int lr_warmup_steps = 100;    // linear_decay's warm-up: Adam's moments start from zero

  // A training mode under linear_decay: the only case the decay's settings apply to.
  bool trains_with_linear_decay() const {
    return mode != QuantizationMode::ptq && lr_schedule == LearningRateShape::linear_decay;
  }

  // The solver's options (solver.bits: `bits`; a bit allocation overrides it per group).
  BcqOptions solver_options() const { return {bits, group_size, solver, cycles}; }

  // AppError unless learning_rate is in (0, 1]; from_json checks it, and `quantize` again
  // after its flags.
  void check_learning_rate() const;

  static QuantizationConfig from_json(const nlohmann::json& j);  // unknown keys are errors
  nlohmann::json to_json() const;  // "learning_rate" and "lr_warmup_steps" only under linear_decay
};

}  // namespace bcqnmt

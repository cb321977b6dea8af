#pragma once
// Per-group BCQ sensitivity: how much the validation loss rises when ONE parameter group
// (a BitAllocation field: "embedding", "encoder_self_attention", ... "final_layer") is
// quantized to Q bits and every other weight stays fp32, with no quantization-aware
// training. It is the measurement behind a mixed-precision allocation: the groups whose loss
// barely moves at 1 bit are where a sub-2-bit budget goes (Chung et al. 2020 put the
// decoder FFN at 1 bit on the same evidence).
//
// One row per (group, Q): the group's quantized weights (Linear kernels and embedding
// tables, exactly those BcqModel::quantize quantizes; biases and LayerNorm never are) are
// replaced by dequantize(quantize(W)) through bcq_quantize_parameter /
// bcq_dequantize_parameter, the caller's evaluation runs, and the fp32 values are copied
// back bit for bit (also when the evaluation throws). Embeddings are quantized per row,
// never in frequency clusters, so no token counts are needed.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nn/transformer.h"
#include "quant/bcq_solvers.h"

namespace bcqnmt {

// What the caller's evaluation returns: mean masked cross-entropy per non-pad target token
// (nats) and masked token accuracy in [0, 1].
struct SensitivityScore {
  double val_loss = 0.0;
  double val_masked_accuracy = 0.0;
};

struct GroupSensitivityRow {
  std::string group;     // the BitAllocation JSON key (bit_allocation_fields())
  int bits = 0;          // Q of every quantized weight of the group
  int64_t matrices = 0;  // quantized parameter tensors in the group
  int64_t weights = 0;   // their entries, summed
  SensitivityScore score;
};

struct GroupSensitivity {
  BcqOptions solver;                  // solver.bits unused: each row has its own
  SensitivityScore baseline;          // the unquantized model
  std::vector<GroupSensitivityRow> rows;  // groups in bit_allocation_fields() order, each for every width in order
};

using SensitivityEvaluation = std::function<SensitivityScore(Transformer&)>;

// Evaluates the fp32 baseline, then every group of the model at every width in `bits`
// (each in 1..8, else QuantError). A group the model has no weights of gets no rows.
// `on_row`, if set, sees each row as soon as it is measured (a sweep of a real model takes
// minutes). On return, and on any exception, the model's weights are bit-identical to before.
GroupSensitivity group_sensitivity(Transformer& model, const std::vector<int>& bits, const BcqOptions& solver,
                                   const SensitivityEvaluation& evaluate,
                                   const std::function<void(const GroupSensitivityRow&)>& on_row = {});

// JSON form, the content of a run's sensitivity.json:
//   {"solver": {"method": "greedy", "cycles": 10, "group_size": 0},
//    "baseline": {"val_loss": 2.1, "val_masked_accuracy": 0.6},
//    "rows": [{"group": "embedding", "bits": 2, "matrices": 2, "weights": 1981440,
//              "val_loss": 2.3, "val_masked_accuracy": 0.55}, ...]}
// Extra keys are allowed (the command adds what it evaluated on); a missing or mistyped
// key is a QuantError starting with `source` (the file's path).
nlohmann::json group_sensitivity_to_json(const GroupSensitivity& s);
GroupSensitivity group_sensitivity_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace bcqnmt

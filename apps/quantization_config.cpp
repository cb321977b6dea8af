#include "apps/quantization_config.h"

#include <nlohmann/json.hpp>

#include "apps/app_error.h"
#include "nn/json_fields.h"
#include "quant/bcq_solvers.h"

namespace bcqnmt {

const NameTable<QuantizationMode>& quantization_mode_names() {
  static const NameTable<QuantizationMode> names("\"mode\"", {{QuantizationMode::projection, "projection"},
                                                               {QuantizationMode::ste, "ste"},
                                                               {QuantizationMode::ptq, "ptq"}});
  return names;
}

const NameTable<LearningRateShape>& learning_rate_shape_names() {
  static const NameTable<LearningRateShape> names(
      "\"lr_schedule\"", {{LearningRateShape::noam, "noam"}, {LearningRateShape::linear_decay, "linear_decay"}});
  return names;
}

QuantizationConfig QuantizationConfig::from_json(const nlohmann::json& j) {
  QuantizationConfig c;
  QuantizationConfig every_key;  // to_json leaves the linear decay's keys out under noam
  every_key.lr_schedule = LearningRateShape::linear_decay;
  const JsonFields<AppError> fields(j, every_key.to_json(), "quantization config");
  fields.get("bits", c.bits);
  fields.get("bits_config", c.bits_config);
  fields.get("solver", c.solver, bcq_method_names());
  fields.get("mode", c.mode, quantization_mode_names());
  fields.get("epochs", c.epochs);
  fields.get("project_every", c.project_every);
  fields.get("cycles", c.cycles);
  fields.get("group_size", c.group_size);
  fields.get("distill_weight", c.distill_weight);
  fields.get("lr_schedule", c.lr_schedule, learning_rate_shape_names());
  fields.get("learning_rate", c.learning_rate);
  fields.get("lr_warmup_steps", c.lr_warmup_steps, 0);
  const bool decay_keys = j.contains("learning_rate") || j.contains("lr_warmup_steps");
  if (c.lr_schedule != LearningRateShape::linear_decay && decay_keys)
    throw AppError("quantization config: \"learning_rate\" and \"lr_warmup_steps\" shape the linear decay, and "
                   "\"lr_schedule\" is \"noam\", which takes its rate from d_model and warmup_steps: add "
                   "\"lr_schedule\": \"linear_decay\" or remove them");
  if (c.bits < 1 || c.bits > 8) throw AppError("quantization config: \"bits\" must be in 1..8");
  if (c.epochs < 1 || c.cycles < 1 || c.project_every < 0 || c.group_size < 0)
    throw AppError("quantization config: epochs and cycles must be >= 1, project_every and group_size >= 0");
  if (!(c.distill_weight >= 0.0 && c.distill_weight <= 1.0))
    throw AppError("quantization config: \"distill_weight\" must be in 0..1");
  c.check_learning_rate();
  return c;
}

void QuantizationConfig::check_learning_rate() const {
  if (!(learning_rate > 0.0 && learning_rate <= 1.0))
    throw AppError("the linear decay's peak (\"learning_rate\", --learning-rate) must be in (0, 1], not " +
                   nlohmann::json(learning_rate).dump());
}

nlohmann::json QuantizationConfig::to_json() const {
  nlohmann::json j = {{"bits", bits},
                      {"bits_config", bits_config},
                      {"solver", bcq_method_names().name(solver)},
                      {"mode", quantization_mode_names().name(mode)},
                      {"epochs", epochs},
                      {"project_every", project_every},
                      {"cycles", cycles},
                      {"group_size", group_size},
                      {"distill_weight", distill_weight},
                      {"lr_schedule", learning_rate_shape_names().name(lr_schedule)}};
  if (lr_schedule == LearningRateShape::linear_decay) {
    j["learning_rate"] = learning_rate;
    j["lr_warmup_steps"] = lr_warmup_steps;
  }
  return j;
}

}  // namespace bcqnmt

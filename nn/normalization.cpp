#include "nn/normalization.h"

#include "nn/error.h"
#include "nn/layer_norm.h"
#include "nn/rms_norm.h"

namespace bcqnmt {

std::unique_ptr<Normalization> make_normalization(const ModelConfig& c) {
  if (c.norm == "layer_norm") return std::make_unique<LayerNorm>(c.d_model, c.layer_norm_epsilon);
  if (c.norm == "rms_norm") return std::make_unique<RmsNorm>(c.d_model, c.layer_norm_epsilon);
  throw NnError("model config: \"norm\" must be \"layer_norm\" or \"rms_norm\", not \"" + c.norm + "\"");
}

}  // namespace bcqnmt

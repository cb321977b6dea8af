#include "nn/normalization.h"

#include "nn/error.h"
#include "nn/layer_norm.h"
#include "nn/rms_norm.h"

namespace bcqnmt {

std::unique_ptr<Normalization> make_normalization(const ModelConfig& c) {
  switch (c.norm) {
    case Norm::layer_norm: return std::make_unique<LayerNorm>(c.d_model, c.layer_norm_epsilon);
    case Norm::rms_norm: return std::make_unique<RmsNorm>(c.d_model, c.layer_norm_epsilon);
  }
  throw NnError("make_normalization: a Norm without a module");
}

}  // namespace bcqnmt

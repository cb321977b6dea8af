#pragma once
// The normalisation of the residual blocks, chosen by ModelConfig::norm (its names are
// norm_names(), nn/model_config.h):
//   Norm::layer_norm (default, the reference)  LayerNorm, parameters "layer_norm/{gamma,beta}"
//   Norm::rms_norm                             RmsNorm,   parameter  "rms_norm/gamma"
// A block registers the module under the norm's name (norm_names().name(config.norm)), so a
// checkpoint says by its parameter names which norm it was trained with, and loading one
// into the other fails.
#include <memory>

#include "nn/model_config.h"
#include "nn/module.h"

namespace bcqnmt {

class Normalization : public Module {
 public:
  virtual Variable forward(const Variable& x) const = 0;  // [..., D] -> [..., D]
};

std::unique_ptr<Normalization> make_normalization(const ModelConfig& config);

}  // namespace bcqnmt

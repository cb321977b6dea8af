// docs/extending.md: the new layer in use — selected by one config key, visible in the
// parameter names, and computing y = x / sqrt(mean(x^2) + eps) * gamma.
#pragma once
#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>

#include "nn/rms_norm.h"
#include "nn/transformer.h"

namespace bcqnmt::examples {

inline void run_example_rms_norm_layer(std::ostream& out) {
  // One line in a config selects the layer for every residual block.
  ModelConfig c = ModelConfig::from_json(nlohmann::json::parse(R"({
    "num_layers": 1, "d_model": 8, "dff": 16, "num_heads": 2, "key_dim": 4, "norm": "rms_norm"
  })"));
  c.src_vocab_size = c.tgt_vocab_size = 20;
  const Transformer model(c, 1);
  for (const auto& [name, p] : model.named_parameters())
    if (name.find("norm") != std::string::npos) out << name << " " << shape_str(p.shape()) << "\n";

  // The module on its own: a row [3, 4] has mean square 12.5, so y = x / sqrt(12.5 + eps).
  const RmsNorm norm(2, 1e-3f);
  const Variable y = norm.forward(Variable(Tensor::from({1, 2}, {3, 4})));  // [1, 2]
  out << "rms_norm([3, 4]) = [" << y.value().data()[0] << ", " << y.value().data()[1] << "], by hand ["
      << 3 / std::sqrt(12.5 + 1e-3) << ", " << 4 / std::sqrt(12.5 + 1e-3) << "]\n";
}

}  // namespace bcqnmt::examples

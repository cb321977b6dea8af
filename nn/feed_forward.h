#pragma once
// The position-wise feed-forward sublayer of the reference:
// x = LN(x + Dropout(Dense_D(relu(Dense_F(x))))); LN is the config's normalisation.
// With "ffn_gate" (ReGLU): x = LN(x + Dropout(Dense_D(relu(Dense_F(x)) * Gate_F(x)))).
#include "nn/dropout.h"
#include <memory>

#include "nn/linear.h"
#include "nn/model_config.h"
#include "nn/normalization.h"

namespace bcqnmt {

class FeedForward : public Module {
 public:
  FeedForward(const ModelConfig& config, Rng& rng);
  Variable forward(const Variable& x) const;  // [B, T, D] -> [B, T, D]
  Linear& inner() { return inner_; }
  Linear& outer() { return outer_; }

 private:
  Linear inner_, outer_;  // D -> F, F -> D
  std::unique_ptr<Linear> gate_;  // D -> F, with "ffn_gate" only
  Dropout dropout_;
  std::unique_ptr<Normalization> norm_;
};

}  // namespace bcqnmt

#pragma once
// The position-wise feed-forward sublayer of the reference:
// x = LN(x + Dropout(Dense_D(relu(Dense_F(x))))).
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/model_config.h"

namespace bcqnmt {

class FeedForward : public Module {
 public:
  FeedForward(const ModelConfig& config, Rng& rng);
  Variable forward(const Variable& x) const;  // [B, T, D] -> [B, T, D]
  Linear& inner() { return inner_; }
  Linear& outer() { return outer_; }

 private:
  Linear inner_, outer_;  // D -> F, F -> D
  Dropout dropout_;
  LayerNorm layer_norm_;
};

}  // namespace bcqnmt

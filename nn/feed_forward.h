#pragma once
// The position-wise feed-forward sublayer of the reference:
// x = LN(x + Dropout(Dense_D(relu(Dense_F(x))))); LN is the config's normalisation.
// With "ffn_gate" (ReGLU): x = LN(x + Dropout(Dense_D(relu(Dense_F(x)) * Gate_F(x)))).
#include "nn/dropout.h"
#include <memory>
#include <optional>

#include "nn/linear.h"
#include "nn/model_config.h"
#include "nn/normalization.h"

namespace bcqnmt {

class FeedForward : public Module {
 public:
  // Hidden units per share of a sliced forward pass (see the .cpp): whole 16-row tiles of
  // Dense_F and whole 32-column blocks of Dense_D for the BCQ kernels.
  static constexpr int64_t kSliceUnits = 256;

  FeedForward(const ModelConfig& config, Rng& rng);
  Variable forward(const Variable& x) const;  // [B, T, D] -> [B, T, D]
  // Whether forward runs `rows` rows by slices of kSliceUnits hidden units, each group of
  // slices' products as one task on the thread team (nn/feed_forward_slices.cpp): in eval
  // mode with gradients off, on the fast kernel path, with every weight on a packed kernel
  // that has the slices.
  bool runs_by_slices(int64_t rows) const;
  Linear& inner() { return inner_; }
  Linear& outer() { return outer_; }

 private:
  // Dense_D(relu(Dense_F(x)) [* Gate_F(x)]) by slices of the hidden units, [N, D]; nullopt
  // when it does not apply, and nothing is done.
  std::optional<Tensor> sliced(const Tensor& x) const;

  Linear inner_, outer_;  // D -> F, F -> D
  std::unique_ptr<Linear> gate_;  // D -> F, with "ffn_gate" only
  Dropout dropout_;
  std::unique_ptr<Normalization> norm_;
};

}  // namespace bcqnmt

#pragma once
// Adam (Kingma & Ba, ICLR 2015) in the form Keras uses, since the reference system trained
// with tf.keras.optimizers.Adam:
//   m <- b1 m + (1 - b1) g
//   v <- b2 v + (1 - b2) g^2
//   p <- p - alpha_t m / (sqrt(v) + eps),   alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)
// This is the paper's "efficient version" (Algorithm 1's last lines folded together): it
// equals PyTorch's p -= lr m_hat / (sqrt(v_hat) + eps') with eps' = eps / sqrt(1 - b2^t),
// so the two agree to within the tiny epsilon (1e-9 here).
//
// A parameter whose gradient is undefined (it got none this step) is skipped: neither it
// nor its moments change, while the shared step count t still advances.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "core/variable.h"

namespace bcqnmt {

struct AdamOptions {
  double beta1 = 0.9;  // docs/reference.md §2 (reference protocol)
  double beta2 = 0.98;
  double epsilon = 1e-9;
};

// Everything Adam needs to continue exactly; moments align with the parameter list.
struct AdamState {
  int64_t step = 0;                   // t, updates done so far
  std::vector<Tensor> first_moment;   // m, one per parameter, same shape
  std::vector<Tensor> second_moment;  // v
};

class Adam {
 public:
  explicit Adam(std::vector<Variable> parameters, AdamOptions options = {});

  // One update with learning rate lr. Element-wise in parallel; the result does not depend
  // on the thread count.
  void step(double lr);
  // Drops every parameter's gradient (the next backward starts from zero).
  void zero_grad();

  const std::vector<Variable>& parameters() const { return parameters_; }
  const AdamOptions& options() const { return options_; }
  const AdamState& state() const { return state_; }
  // Copies a saved state in; throws CheckpointError if the counts or shapes do not match.
  void load_state(const AdamState& state);

 private:
  std::vector<Variable> parameters_;
  AdamOptions options_;
  AdamState state_;
};

}  // namespace bcqnmt

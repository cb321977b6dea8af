#include "optim/adam.h"

#include <cmath>
#include <string>

#include "core/parallel.h"
#include "optim/checkpoint_error.h"

namespace bcqnmt {

Adam::Adam(std::vector<Variable> parameters, AdamOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  for (const Variable& p : parameters_) {
    state_.first_moment.push_back(Tensor::zeros(p.shape()));
    state_.second_moment.push_back(Tensor::zeros(p.shape()));
  }
}

void Adam::step(double lr) {
  state_.step += 1;
  const double t = static_cast<double>(state_.step);
  const double alpha_t = lr * std::sqrt(1.0 - std::pow(options_.beta2, t)) / (1.0 - std::pow(options_.beta1, t));
  const float alpha = static_cast<float>(alpha_t);
  const float b1 = static_cast<float>(options_.beta1);
  const float b2 = static_cast<float>(options_.beta2);
  const float eps = static_cast<float>(options_.epsilon);
  for (size_t k = 0; k < parameters_.size(); ++k) {
    Variable& param = parameters_[k];
    const Tensor& grad_tensor = param.grad();
    if (!grad_tensor.defined()) continue;
    float* p = param.value().data();
    const float* g = grad_tensor.data();
    float* m = state_.first_moment[k].data();
    float* v = state_.second_moment[k].data();
    parallel_for(param.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
      }
    });
  }
}

void Adam::zero_grad() {
  for (Variable& p : parameters_) p.zero_grad();
}

void Adam::load_state(const AdamState& state) {
  const size_t n = parameters_.size();
  if (state.first_moment.size() != n || state.second_moment.size() != n)
    throw CheckpointError("optimizer state has " + std::to_string(state.first_moment.size()) + "/" +
                          std::to_string(state.second_moment.size()) + " moments for " + std::to_string(n) +
                          " parameters");
  for (size_t k = 0; k < n; ++k) {
    const Shape& want = parameters_[k].shape();
    if (state.first_moment[k].shape() != want || state.second_moment[k].shape() != want)
      throw CheckpointError("optimizer state for parameter " + std::to_string(k) + " has shape " +
                            shape_str(state.first_moment[k].shape()) + ", the parameter has " + shape_str(want));
  }
  state_.step = state.step;
  for (size_t k = 0; k < n; ++k) {
    state_.first_moment[k] = state.first_moment[k].clone();
    state_.second_moment[k] = state.second_moment[k].clone();
  }
}

}  // namespace bcqnmt

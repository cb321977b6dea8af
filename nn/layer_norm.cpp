#include "nn/layer_norm.h"

#include "core/ops.h"

namespace bcqnmt {

LayerNorm::LayerNorm(int64_t dim, float epsilon) : epsilon_(epsilon) {
  gamma_ = register_parameter("gamma", Tensor::full({dim}, 1.0f));
  beta_ = register_parameter("beta", Tensor::zeros({dim}));
}

Variable LayerNorm::forward(const Variable& x) const { return layer_norm(x, gamma_, beta_, epsilon_); }

}  // namespace bcqnmt

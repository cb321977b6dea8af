#include "nn/rms_norm.h"

#include "core/ops.h"

namespace bcqnmt {

RmsNorm::RmsNorm(int64_t dim, float epsilon) : epsilon_(epsilon) {
  gamma_ = register_parameter("gamma", Tensor::full({dim}, 1.0f));
}

Variable RmsNorm::forward(const Variable& x) const { return rms_norm(x, gamma_, epsilon_); }

}  // namespace bcqnmt

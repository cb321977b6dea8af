#include "nn/linear.h"

#include "core/ops.h"
#include "nn/initializers.h"

namespace bcqnmt {

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias)
    : Linear(in_features, out_features, GlorotFans{in_features, out_features}, rng, bias) {}

Linear::Linear(int64_t in_features, int64_t out_features, GlorotFans fans, Rng& rng, bool bias)
    : in_(in_features), out_(out_features) {
  kernel_ = register_parameter("kernel", glorot_uniform(in_features, out_features, fans, rng));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_features}));
}

Variable Linear::forward(const Variable& x) const {
  if (inference_kernel_ && !grad_enabled()) {
    Shape out_shape = x.shape();
    out_shape.back() = out_;
    Tensor y(out_shape);
    inference_kernel_->apply(x.value().data(), x.numel() / in_, y.data());
    return Variable(y);
  }
  return linear(x, weight(), bias_);
}

}  // namespace bcqnmt

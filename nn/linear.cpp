#include "nn/linear.h"

#include "core/ops.h"
#include "nn/error.h"
#include "nn/initializers.h"

namespace bcqnmt {

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias)
    : Linear(in_features, out_features, GlorotFans{in_features, out_features}, rng, bias) {}

Linear::Linear(int64_t in_features, int64_t out_features, GlorotFans fans, Rng& rng, bool bias)
    : in_(in_features),
      out_(out_features),
      weight_(register_parameter("kernel", glorot_uniform(in_features, out_features, fans, rng))) {
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_features}));
}

std::unique_ptr<LinearKernel::SliceInput> LinearKernel::prepare_slice(const float*, int64_t, int64_t, int64_t,
                                                                      int64_t) const {
  throw NnError("this layer's packed kernel has no sliced products");
}

void LinearKernel::apply_slice(const SliceInput&, int64_t, int64_t, float*, int64_t, bool) const {
  throw NnError("this layer's packed kernel has no sliced products");
}

void Linear::pack(std::shared_ptr<const LinearKernel> k) {
  weight_.pack(std::move(k));
  pack_parameter("kernel");
}

Variable Linear::forward(const Variable& x) const {
  if (const LinearKernel* kernel = weight_.kernel()) {
    if (grad_enabled()) throw NnError("a packed Linear runs for inference only (gradients off, NoGradGuard)");
    Shape out_shape = x.shape();
    out_shape.back() = out_;
    Tensor y(out_shape);
    kernel->apply(x.value().data(), x.numel() / in_, y.data());
    return Variable(y);
  }
  return linear(x, weight(), bias_);
}

}  // namespace bcqnmt

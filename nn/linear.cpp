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
      weight_(DenseWeight{register_parameter("kernel", glorot_uniform(in_features, out_features, fans, rng)), {}}) {
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_features}));
}

const DenseWeight& Linear::dense() const {
  if (const auto* d = std::get_if<DenseWeight>(&weight_)) return *d;
  throw NnError("this Linear's kernel is packed for inference: it has no dense weight");
}

void Linear::set_weight_transform(WeightTransform t) {
  if (packed()) throw NnError("a packed Linear has no dense weight to transform");
  std::get<DenseWeight>(weight_).transform = std::move(t);
}

void Linear::pack(std::shared_ptr<const LinearKernel> k) {
  if (packed()) throw NnError("this Linear is already packed");
  pack_parameter("kernel");
  weight_ = PackedWeight<LinearKernel>{std::move(k)};
}

Variable Linear::forward(const Variable& x) const {
  if (const auto* p = std::get_if<PackedWeight<LinearKernel>>(&weight_)) {
    if (grad_enabled()) throw NnError("a packed Linear runs for inference only (gradients off, NoGradGuard)");
    Shape out_shape = x.shape();
    out_shape.back() = out_;
    Tensor y(out_shape);
    p->kernel->apply(x.value().data(), x.numel() / in_, y.data());
    return Variable(y);
  }
  return linear(x, weight(), bias_);
}

}  // namespace bcqnmt

#pragma once
// Dense layer y = x W + b with W stored [in, out] as Keras does ("kernel", "bias").
//
// Two hooks let quant/ change how the weight is used without nn/ knowing about BCQ:
//  - a weight transform (training): the forward pass uses transform(W) instead of W, e.g.
//    a straight-through BCQ quantizer whose gradient flows back to the latent W;
//  - an inference kernel (no-grad forward): replaces the GEMM entirely, e.g. the BCQ
//    lookup-table kernel that never dequantizes.
#include <functional>
#include <memory>

#include "core/random.h"
#include "nn/initializers.h"
#include "nn/module.h"

namespace bcqnmt {

class LinearKernel {
 public:
  virtual ~LinearKernel() = default;
  // y [N, out] = x [N, in] W + b
  virtual void apply(const float* x, int64_t n, float* y) const = 0;
};

using WeightTransform = std::function<Variable(const Variable&)>;

class Linear : public Module {
 public:
  // The kernel starts Glorot-uniform with fans {in, out} (Keras' Dense) unless `fans`
  // says otherwise (MultiHeadAttention's projections use Keras' 3-D kernel fans).
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
  Linear(int64_t in_features, int64_t out_features, GlorotFans fans, Rng& rng, bool bias = true);
  Variable forward(const Variable& x) const;  // [..., in] -> [..., out]
  // The weight the forward pass multiplies by: the kernel through the weight transform,
  // if one is set. [in, out]
  Variable weight() const { return transform_ ? transform_(kernel_) : kernel_; }

  const Variable& kernel() const { return kernel_; }  // [in, out]
  const Variable& bias() const { return bias_; }      // [out] or undefined
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  void set_weight_transform(WeightTransform t) { transform_ = std::move(t); }
  void set_inference_kernel(std::shared_ptr<const LinearKernel> k) { inference_kernel_ = std::move(k); }
  const LinearKernel* inference_kernel() const { return inference_kernel_.get(); }

 private:
  int64_t in_, out_;
  Variable kernel_, bias_;
  WeightTransform transform_;
  std::shared_ptr<const LinearKernel> inference_kernel_;
};

}  // namespace bcqnmt

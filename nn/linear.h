#pragma once
// Dense layer y = x W + b with W stored [in, out] as Keras does ("kernel", "bias").
//
// The weight is a LayerWeight (nn/layer_weight.h), dense or packed, so quant/ can change how
// it is used without nn/ knowing about BCQ:
//  - dense, with a weight transform (training): the forward pass uses transform(W) instead
//    of W, e.g. a straight-through BCQ quantizer whose gradient flows back to the latent W;
//  - packed (inference): a LinearKernel replaces the GEMM entirely, e.g. the BCQ
//    lookup-table kernel that never dequantizes. The dense kernel is gone.
#include <memory>

#include "core/random.h"
#include "nn/initializers.h"
#include "nn/layer_weight.h"
#include "nn/module.h"

namespace bcqnmt {

class LinearKernel {
 public:
  virtual ~LinearKernel() = default;
  // y [N, out] = x [N, in] W + b
  virtual void apply(const float* x, int64_t n, float* y) const = 0;

  // Slices of the product, run on the calling thread, for a layer that splits the products of
  // a few rows into tasks: MultiHeadAttention::forward_cached by heads and halves of the heads,
  // FeedForward by slices of its hidden units. A kernel may have none (the default); the
  // layer then uses apply.
  class SliceInput {
   public:
    virtual ~SliceInput() = default;
  };
  // Whether prepare_slice takes input features [c0, c1) of n rows, and apply_slice outputs
  // [o0, o1) (a slice's bounds must suit the kernel's layout).
  virtual bool has_slice(int64_t n, int64_t c0, int64_t c1, int64_t o0, int64_t o1) const {
    (void)n, (void)c0, (void)c1, (void)o0, (void)o1;
    return false;
  }
  // Input features [c0, c1) of x [n, ldx] (x points at feature c0 of row 0; it must outlive
  // the result), prepared for apply_slice of this kernel or of another one taking the same
  // features (Q, K and V of one input share one). Used and destroyed on the calling thread.
  // NnError from the default.
  virtual std::unique_ptr<SliceInput> prepare_slice(const float* x, int64_t n, int64_t ldx, int64_t c0,
                                                    int64_t c1) const;
  // y[r, o] (row stride ldy) for o in [o0, o1) = sum over the input's features c of
  // x[r, c] W[c, o], + b[o] when with_bias; other entries of y are untouched. The sum of the
  // slices of a row of features may differ from apply's by the kernel's rounding. NnError
  // from the default.
  virtual void apply_slice(const SliceInput& x, int64_t o0, int64_t o1, float* y, int64_t ldy, bool with_bias) const;
};

class Linear : public Module {
 public:
  static constexpr OutputAxis kOutputAxis = OutputAxis::columns;  // kernel [in, out]

  // The kernel starts Glorot-uniform with fans {in, out} (Keras' Dense) unless `fans`
  // says otherwise (MultiHeadAttention's projections use Keras' 3-D kernel fans).
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
  Linear(int64_t in_features, int64_t out_features, GlorotFans fans, Rng& rng, bool bias = true);
  // [..., in] -> [..., out]. Packed: the kernel's product, only with gradients off (NnError
  // otherwise: a packed weight cannot be trained).
  Variable forward(const Variable& x) const;

  const LayerWeight<LinearKernel>& weight_state() const { return weight_; }
  bool packed() const { return weight_.packed(); }
  // The weight the forward pass multiplies by: the kernel through the weight transform,
  // if one is set. [in, out]. NnError if packed.
  Variable weight() const { return weight_.dense().used(); }
  const Variable& kernel() const { return weight_.dense().value; }  // [in, out]; NnError if packed
  const Variable& bias() const { return bias_; }                    // [out] or undefined
  Shape weight_shape() const { return {in_, out_}; }                // the kernel's [in, out], dense or packed
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  // An empty transform restores the plain kernel. NnError if packed.
  void set_weight_transform(WeightTransform t) { weight_.set_transform(std::move(t)); }
  // Replaces the dense kernel by `k` for good: the parameter "kernel" becomes a packed
  // weight of this module (Module::pack_parameter). NnError if already packed.
  void pack(std::shared_ptr<const LinearKernel> k);

 private:
  int64_t in_, out_;
  LayerWeight<LinearKernel> weight_;
  Variable bias_;
};

}  // namespace bcqnmt

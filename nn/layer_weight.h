#pragma once
// The weight matrix of a Linear or an Embedding, in one of two explicit states:
//  - DenseWeight: a trainable parameter (a Variable registered on the layer), used through
//    an optional training-time transform, e.g. quant/'s straight-through BCQ quantizer whose
//    gradient flows back to the latent fp32 weight;
//  - PackedWeight<Kernel>: an inference-only form installed by quant/ (the BCQ lookup-table
//    kernels, quant/bcq_model_kernels.h) that never forms the dense matrix. The dense values
//    are gone and nothing can train it; the layer keeps the weight's shape on the module
//    (Module::pack_parameter), so num_parameters() still counts it.
// A layer holds a `LayerWeight<Kernel>` around a std::variant of the two, so which state a
// weight is in is a question to its type, never to a released tensor or a name.
//
// And its orientation, a property of the layer type (Linear::kOutputAxis,
// Embedding::kOutputAxis), not of a parameter name: which axis of the stored matrix indexes
// the layer's outputs. A per-output quantizer (BCQ: one alpha set per output row) reads the
// matrix along it.
#include <functional>
#include <memory>
#include <variant>

#include "core/variable.h"
#include "nn/error.h"

namespace bcqnmt {

enum class OutputAxis {
  rows,     // [outputs, ...]: an Embedding's table [V, D], one row per token
  columns,  // [..., outputs]: a Linear's kernel [in, out], y = x W (Keras' layout)
};

using WeightTransform = std::function<Variable(const Variable&)>;

struct DenseWeight {
  Variable value;             // the registered parameter, as the layer stores it
  WeightTransform transform;  // empty: the forward pass uses `value` as it is
  // What the forward pass multiplies by: transform(value), or value.
  Variable used() const { return transform ? transform(value) : value; }
};

template <class Kernel>
struct PackedWeight {
  std::shared_ptr<const Kernel> kernel;  // never null
};

// The weight of one layer: starts dense, may be packed once, never goes back.
template <class Kernel>
class LayerWeight {
 public:
  using State = std::variant<DenseWeight, PackedWeight<Kernel>>;

  explicit LayerWeight(Variable dense) : state_(DenseWeight{std::move(dense), {}}) {}
  const State& state() const { return state_; }
  bool packed() const { return std::holds_alternative<PackedWeight<Kernel>>(state_); }
  // NnError if packed: there are no dense values to read, transform or train.
  const DenseWeight& dense() const {
    if (const auto* d = std::get_if<DenseWeight>(&state_)) return *d;
    throw NnError("this layer's weight is packed for inference: it has no dense weight");
  }
  const Kernel* kernel() const {  // nullptr when dense
    const auto* p = std::get_if<PackedWeight<Kernel>>(&state_);
    return p ? p->kernel.get() : nullptr;
  }
  void set_transform(WeightTransform t) {  // an empty transform restores the plain weight
    dense();
    std::get<DenseWeight>(state_).transform = std::move(t);
  }
  // The layer also calls Module::pack_parameter, so its module stops listing the parameter.
  void pack(std::shared_ptr<const Kernel> k) {
    if (packed()) throw NnError("this layer's weight is already packed");
    if (!k) throw NnError("pack: no kernel");
    state_ = PackedWeight<Kernel>{std::move(k)};
  }

 private:
  State state_;
};

}  // namespace bcqnmt

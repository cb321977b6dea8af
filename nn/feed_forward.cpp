#include "nn/feed_forward.h"

namespace bcqnmt {

FeedForward::FeedForward(const ModelConfig& c, Rng& rng)
    : inner_(c.d_model, c.dff, rng),
      outer_(c.dff, c.d_model, rng),
      dropout_(c.dropout_rate, rng),
      norm_(make_normalization(c)) {
  register_module("dense_0", inner_);
  register_module("dense_1", outer_);
  if (c.ffn_gate) register_module("gate", *(gate_ = std::make_unique<Linear>(c.d_model, c.dff, rng)));
  register_module(norm_names().name(c.norm), *norm_);
  register_module("dropout", dropout_);  // no parameters, but it follows train/eval
}

Variable FeedForward::forward(const Variable& x) const {
  // The same function by slices of the hidden units, on packed kernels (feed_forward_slices.cpp)
  if (std::optional<Tensor> y = sliced(x.value())) return norm_->forward(add(x, Variable(y->reshape(x.shape()))));
  Variable h = relu(inner_.forward(x));             // [B, T, F]
  if (gate_) h = mul(h, gate_->forward(x));         // [B, T, F]
  Variable y = dropout_.forward(outer_.forward(h));  // [B, T, D]
  return norm_->forward(add(x, y));
}

}  // namespace bcqnmt

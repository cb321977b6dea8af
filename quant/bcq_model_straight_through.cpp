// Straight-through estimator (Bengio et al. 2013; the BCQ form as in Xu et al. 2018): the
// forward pass sees W_q = dequantize(quantize(W)), the backward pass treats the quantizer as
// the identity, dL/dW := dL/dW_q, so Adam keeps updating the fp32 latent W.
#include <memory>

#include "quant/bcq_model.h"
#include "quant/bcq_model_layers.h"

namespace bcqnmt {

namespace {

// One copy of the settings (token counts included) serves every layer.
WeightTransform straight_through(const std::string& name, std::shared_ptr<const QuantizeSettings> settings) {
  return [name, settings](const Variable& w) {
    Tensor quantized = bcq_dequantize_parameter(name, bcq_quantize_parameter(name, w.value(), *settings));
    return Variable::make_result(std::move(quantized), {w},
                                 [](Node& self) { self.inputs[0]->accumulate_grad(self.grad); });
  };
}

}  // namespace

void enable_straight_through(Transformer& model, const QuantizeSettings& settings) {
  const auto shared = std::make_shared<const QuantizeSettings>(settings);
  const BcqModelLayers layers = bcq_model_layers(model);
  for (const auto& [name, linear] : layers.linears) linear->set_weight_transform(straight_through(name, shared));
  for (const auto& [name, embedding] : layers.embeddings)
    embedding->set_weight_transform(straight_through(name, shared));
}

void disable_straight_through(Transformer& model) {
  const BcqModelLayers layers = bcq_model_layers(model);
  for (const auto& [name, linear] : layers.linears) linear->set_weight_transform(nullptr);
  for (const auto& [name, embedding] : layers.embeddings) embedding->set_weight_transform(nullptr);
}

}  // namespace bcqnmt

// Straight-through estimator (Bengio et al. 2013; the BCQ form as in Xu et al. 2018): the
// forward pass sees W_q = dequantize(quantize(W)), the backward pass treats the quantizer as
// the identity, dL/dW := dL/dW_q, so Adam keeps updating the fp32 latent W.
#include <memory>

#include "quant/bcq_model.h"
#include "quant/bcq_model_layers.h"

namespace bcqnmt {

namespace {

// One copy of the settings (token counts included) serves every layer. `w` is the weight's
// layout (its value is the latent W the transform is handed).
WeightTransform straight_through(QuantizedWeight w, std::shared_ptr<const QuantizeSettings> settings) {
  w.value = Tensor();  // the transform reads the Variable it is given, never a stored copy
  return [w = std::move(w), settings](const Variable& latent) {
    Tensor quantized = bcq_dequantize_parameter(w, bcq_quantize_parameter(w, latent.value(), *settings));
    return Variable::make_result(std::move(quantized), {latent},
                                 [](Node& self) { self.inputs[0]->accumulate_grad(self.grad); });
  };
}

}  // namespace

void enable_straight_through(Transformer& model, const QuantizeSettings& settings) {
  const auto shared = std::make_shared<const QuantizeSettings>(settings);
  const std::map<std::string, QuantizedWeight> weights = bcq_quantized_weights_by_name(model);
  const BcqModelLayers layers = bcq_model_layers(model);
  for (const auto& [name, linear] : layers.linears) linear->set_weight_transform(straight_through(weights.at(name), shared));
  for (const auto& [name, embedding] : layers.embeddings)
    embedding->set_weight_transform(straight_through(weights.at(name), shared));
}

void disable_straight_through(Transformer& model) {
  const BcqModelLayers layers = bcq_model_layers(model);
  for (const auto& [name, linear] : layers.linears) linear->set_weight_transform(nullptr);
  for (const auto& [name, embedding] : layers.embeddings) embedding->set_weight_transform(nullptr);
}

}  // namespace bcqnmt

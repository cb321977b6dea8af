#include "quant/bcq_model_layers.h"

#include <set>
#include <vector>

#include "quant/bit_allocation.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

// Visits the quantized layers of `model` (const or not) as (weight name, layer path,
// Linear* or Embedding*), after checking both directions.
template <class ModuleT, class Fn>
void visit_quantized_layers(ModuleT& model, Fn&& fn) {
  std::set<std::string> held;
  auto check_group = [&](const std::string& path, const char* kind) {
    if (bit_group_of(path) == nullptr)
      throw QuantError(std::string("the ") + kind + " at '" + path +
                       "' has no bit group: give its sub-layer a rule in quant/bit_allocation.cpp (bit_group_of)");
  };
  model.template for_each<Linear>([&](const std::string& path, auto& linear) {
    check_group(path, "Linear");
    held.insert(path + "/kernel");
    fn(path + "/kernel", &linear, nullptr);
  });
  model.template for_each<Embedding>([&](const std::string& path, auto& embedding) {
    check_group(path, "Embedding");
    held.insert(path + "/embeddings");
    fn(path + "/embeddings", nullptr, &embedding);
  });
  for (const auto& [name, p] : model.named_parameters())
    if (p.value().dim() >= 2 && !held.count(name))
      throw QuantError("the weight matrix '" + name +
                       "' is not held by a Linear or Embedding, so BCQ cannot quantize or run it (docs/extending.md)");
}

Tensor dense_value(const auto& layer) {
  return layer.packed() ? Tensor() : layer.weight_state().dense().value.value();
}

}  // namespace

BcqModelLayers bcq_model_layers(Module& model) {
  BcqModelLayers layers;
  visit_quantized_layers(model, [&](const std::string& name, Linear* linear, Embedding* embedding) {
    if (linear) layers.linears[name] = linear;
    if (embedding) layers.embeddings[name] = embedding;
  });
  return layers;
}

std::vector<QuantizedWeight> bcq_quantized_weights(const Module& model) {
  std::vector<QuantizedWeight> weights;
  visit_quantized_layers(model, [&](const std::string& name, const Linear* linear, const Embedding* embedding) {
    if (linear)
      weights.push_back({name, linear->weight_shape(), Linear::kOutputAxis, false, dense_value(*linear)});
    else
      weights.push_back({name, embedding->weight_shape(), Embedding::kOutputAxis, true, dense_value(*embedding)});
  });
  return weights;
}

std::map<std::string, QuantizedWeight> bcq_quantized_weights_by_name(const Module& model) {
  std::map<std::string, QuantizedWeight> by_name;
  for (QuantizedWeight& w : bcq_quantized_weights(model)) by_name.emplace(w.name, std::move(w));
  return by_name;
}

}  // namespace bcqnmt

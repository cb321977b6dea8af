#pragma once
// Which weights of a model BCQ quantizes, and the Linear and Embedding modules that hold
// them: found by type through Module::for_each (nn/module.h), so quantizing, straight-through
// training and the lookup-table kernels all see the same layers, wherever a model puts
// them. Names are the weights' parameter names ("encoder/layer_0/ffn/dense_0/kernel",
// "decoder/pos_embedding/embedding/embeddings"), exactly those of checkpoints.
//
// Checked in both directions (QuantError): every Linear and Embedding has a bit group
// (quant/bit_allocation.h), and every weight matrix of the model is held by one of them.
#include <map>
#include <string>

#include "nn/embedding.h"
#include "nn/linear.h"

namespace bcqnmt {

struct BcqModelLayers {
  std::map<std::string, Linear*> linears;        // by kernel name
  std::map<std::string, Embedding*> embeddings;  // by table name
};

BcqModelLayers bcq_model_layers(Module& model);

// The quantized weights of a model, by name, with their current values (a Linear kernel
// [in, out] or an Embedding table [V, D]; the tensor shares the parameter's storage).
struct QuantizedWeight {
  std::string name;
  Tensor value;
};
std::vector<QuantizedWeight> bcq_quantized_weights(const Module& model);

}  // namespace bcqnmt

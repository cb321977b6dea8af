#pragma once
// Which weights of a model BCQ quantizes, and the Linear and Embedding modules that hold
// them: found by type through Module::for_each (nn/module.h), so quantizing, straight-through
// training and the lookup-table kernels all see the same layers, wherever a model puts
// them. Names are the weights' parameter names ("encoder/layer_0/ffn/dense_0/kernel",
// "decoder/pos_embedding/embedding/embeddings"), exactly those of checkpoints. How a weight
// is oriented is its layer type's (Linear::kOutputAxis, Embedding::kOutputAxis), never read
// from its name.
//
// Checked in both directions (QuantError): every Linear and Embedding has a bit group
// (quant/bit_allocation.h), and every weight matrix of the model is held by one of them.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/embedding.h"
#include "nn/linear.h"

namespace bcqnmt {

struct BcqModelLayers {
  std::map<std::string, Linear*> linears;        // by kernel name
  std::map<std::string, Embedding*> embeddings;  // by table name
};

BcqModelLayers bcq_model_layers(Module& model);

// One quantized weight of a model, dense or packed, as its layer holds it.
struct QuantizedWeight {
  std::string name;        // the parameter's name: layer path + "/kernel" or "/embeddings"
  Shape shape;             // as stored: a Linear kernel [in, out], an Embedding table [V, D]
  OutputAxis output_axis;  // the axis of `shape` that indexes the layer's outputs
  bool token_rows;         // an Embedding table: one row per token (frequency clusters apply)
  Tensor value;            // shares the parameter's storage; undefined when the layer is packed
};
// In traversal order (Linears, then Embeddings).
std::vector<QuantizedWeight> bcq_quantized_weights(const Module& model);
// The same, by name.
std::map<std::string, QuantizedWeight> bcq_quantized_weights_by_name(const Module& model);

}  // namespace bcqnmt

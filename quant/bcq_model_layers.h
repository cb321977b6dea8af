#pragma once
// The Linear and Embedding modules of a Transformer, addressed by the name of their weight
// parameter ("encoder/layer_0/ffn/dense_0/kernel", "decoder/pos_embedding/embedding/embeddings"),
// so quant/ can attach hooks (straight-through transforms, inference kernels) to the layer
// that owns a quantized parameter. Modules are found through nn's accessors and matched to
// named_parameters() by the identity of their weight Variable, so the names are exactly
// those of checkpoints.
#include <map>
#include <string>

#include "nn/transformer.h"

namespace bcqnmt {

struct BcqModelLayers {
  std::map<std::string, Linear*> linears;        // by kernel name
  std::map<std::string, Embedding*> embeddings;  // by table name
};

BcqModelLayers bcq_model_layers(Transformer& model);

}  // namespace bcqnmt

#include "quant/bcq_model_layers.h"

#include <vector>

#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

void add_attention(MultiHeadAttention& mha, std::vector<Linear*>& out) {
  out.insert(out.end(), {&mha.query(), &mha.key(), &mha.value(), &mha.output()});
}

void add_ffn(FeedForward& ffn, std::vector<Linear*>& out) { out.insert(out.end(), {&ffn.inner(), &ffn.outer()}); }

}  // namespace

BcqModelLayers bcq_model_layers(Transformer& model) {
  std::vector<Linear*> linears{&model.final_layer()};
  for (auto& layer : model.encoder().layers()) {
    add_attention(layer->self_attention().mha(), linears);
    add_ffn(layer->ffn(), linears);
  }
  for (auto& layer : model.decoder().layers()) {
    add_attention(layer->self_attention().mha(), linears);
    add_attention(layer->cross_attention().mha(), linears);
    add_ffn(layer->ffn(), linears);
  }
  const std::vector<Embedding*> embeddings{&model.encoder().pos_embedding().embedding(),
                                           &model.decoder().pos_embedding().embedding()};

  BcqModelLayers layers;
  for (const auto& [name, p] : model.named_parameters()) {
    for (Linear* l : linears)
      if (l->kernel().node() == p.node()) layers.linears[name] = l;
    for (Embedding* e : embeddings)
      if (e->table().node() == p.node()) layers.embeddings[name] = e;
  }
  if (layers.linears.size() != linears.size() || layers.embeddings.size() != embeddings.size())
    throw QuantError("the Transformer has Linear or Embedding layers that named_parameters() does not list");
  return layers;
}

}  // namespace bcqnmt

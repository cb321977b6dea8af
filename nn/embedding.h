#pragma once
// Token embedding: a [V, D] table ("embeddings", Keras' name), looked up by id.
// Like Linear its table is a LayerWeight (nn/layer_weight.h): dense, with a training-time
// weight transform, or packed into an EmbeddingLookup, so quant/ can substitute BCQ rows.
#include <memory>

#include "core/random.h"
#include "nn/layer_weight.h"
#include "nn/module.h"

namespace bcqnmt {

class EmbeddingLookup {
 public:
  virtual ~EmbeddingLookup() = default;
  // out [n, D] = rows ids[0..n) of the table
  virtual void gather(const int32_t* ids, int64_t n, float* out) const = 0;
};

class Embedding : public Module {
 public:
  static constexpr OutputAxis kOutputAxis = OutputAxis::rows;  // table [V, D], a row per token

  Embedding(int64_t vocab_size, int64_t dim, Rng& rng);
  // ids [...] -> [..., D]. Packed: the lookup, only with gradients off (NnError otherwise).
  Variable forward(const IndexTensor& ids) const;

  const LayerWeight<EmbeddingLookup>& weight_state() const { return table_; }
  bool packed() const { return table_.packed(); }
  const Variable& table() const { return table_.dense().value; }  // [V, D]; NnError if packed
  Shape weight_shape() const { return {vocab_size_, dim_}; }       // the table's [V, D], dense or packed
  int64_t vocab_size() const { return vocab_size_; }
  int64_t dim() const { return dim_; }
  void set_weight_transform(WeightTransform t) { table_.set_transform(std::move(t)); }  // NnError if packed
  // Replaces the dense table by `l` for good ("embeddings" becomes a packed weight).
  void pack(std::shared_ptr<const EmbeddingLookup> l);

 private:
  int64_t vocab_size_, dim_;
  LayerWeight<EmbeddingLookup> table_;
};

}  // namespace bcqnmt

#pragma once
// Token embedding: a [V, D] table ("embeddings", Keras' name), looked up by id.
// Like Linear it has a training-time weight transform and an inference-time lookup
// override, so quant/ can substitute BCQ rows.
#include <memory>

#include "core/random.h"
#include "nn/linear.h"

namespace bcqnmt {

class EmbeddingLookup {
 public:
  virtual ~EmbeddingLookup() = default;
  // out [n, D] = rows ids[0..n) of the table
  virtual void gather(const int32_t* ids, int64_t n, float* out) const = 0;
};

class Embedding : public Module {
 public:
  Embedding(int64_t vocab_size, int64_t dim, Rng& rng);
  Variable forward(const IndexTensor& ids) const;  // ids [...] -> [..., D]

  const Variable& table() const { return table_; }  // [V, D]
  int64_t vocab_size() const { return vocab_size_; }
  int64_t dim() const { return dim_; }
  void set_weight_transform(WeightTransform t) { transform_ = std::move(t); }
  void set_inference_lookup(std::shared_ptr<const EmbeddingLookup> l) { lookup_ = std::move(l); }

 private:
  int64_t vocab_size_, dim_;  // kept apart from table_: a lookup may release the table
  Variable table_;
  WeightTransform transform_;
  std::shared_ptr<const EmbeddingLookup> lookup_;
};

}  // namespace bcqnmt

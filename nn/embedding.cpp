#include "nn/embedding.h"

#include "core/error.h"
#include "core/ops.h"
#include "nn/error.h"
#include "nn/initializers.h"

namespace bcqnmt {

Embedding::Embedding(int64_t vocab_size, int64_t dim, Rng& rng)
    : vocab_size_(vocab_size),
      dim_(dim),
      table_(DenseWeight{register_parameter("embeddings", uniform_tensor({vocab_size, dim}, -0.05f, 0.05f, rng)), {}}) {}

const DenseWeight& Embedding::dense() const {
  if (const auto* d = std::get_if<DenseWeight>(&table_)) return *d;
  throw NnError("this Embedding's table is packed for inference: it has no dense weight");
}

void Embedding::set_weight_transform(WeightTransform t) {
  if (packed()) throw NnError("a packed Embedding has no dense weight to transform");
  std::get<DenseWeight>(table_).transform = std::move(t);
}

void Embedding::pack(std::shared_ptr<const EmbeddingLookup> l) {
  if (packed()) throw NnError("this Embedding is already packed");
  pack_parameter("embeddings");
  table_ = PackedWeight<EmbeddingLookup>{std::move(l)};
}

Variable Embedding::forward(const IndexTensor& ids) const {
  if (const auto* p = std::get_if<PackedWeight<EmbeddingLookup>>(&table_)) {
    if (grad_enabled()) throw NnError("a packed Embedding runs for inference only (gradients off, NoGradGuard)");
    const int64_t v = vocab_size_, d = dim_;
    for (int32_t id : ids.data)
      BCQNMT_CHECK(id >= 0 && id < v, "embedding: id " + std::to_string(id) + " outside a vocabulary of " + std::to_string(v));
    Shape shape = ids.shape;
    shape.push_back(d);
    Tensor out(shape);
    p->kernel->gather(ids.data.data(), ids.numel(), out.data());
    return Variable(out);
  }
  return embedding(dense().used(), ids);
}

}  // namespace bcqnmt

#include "nn/embedding.h"

#include "core/error.h"
#include "core/ops.h"
#include "nn/error.h"
#include "nn/initializers.h"

namespace bcqnmt {

Embedding::Embedding(int64_t vocab_size, int64_t dim, Rng& rng)
    : vocab_size_(vocab_size),
      dim_(dim),
      table_(register_parameter("embeddings", uniform_tensor({vocab_size, dim}, -0.05f, 0.05f, rng))) {}

void Embedding::pack(std::shared_ptr<const EmbeddingLookup> l) {
  table_.pack(std::move(l));
  pack_parameter("embeddings");
}

Variable Embedding::forward(const IndexTensor& ids) const {
  if (const EmbeddingLookup* lookup = table_.kernel()) {
    if (grad_enabled()) throw NnError("a packed Embedding runs for inference only (gradients off, NoGradGuard)");
    const int64_t v = vocab_size_, d = dim_;
    for (int32_t id : ids.data)
      BCQNMT_CHECK(id >= 0 && id < v, "embedding: id " + std::to_string(id) + " outside a vocabulary of " + std::to_string(v));
    Shape shape = ids.shape;
    shape.push_back(d);
    Tensor out(shape);
    lookup->gather(ids.data.data(), ids.numel(), out.data());
    return Variable(out);
  }
  return embedding(table_.dense().used(), ids);
}

}  // namespace bcqnmt

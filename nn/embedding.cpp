#include "nn/embedding.h"

#include "core/error.h"
#include "core/ops.h"
#include "nn/initializers.h"

namespace bcqnmt {

Embedding::Embedding(int64_t vocab_size, int64_t dim, Rng& rng) : vocab_size_(vocab_size), dim_(dim) {
  table_ = register_parameter("embeddings", uniform_tensor({vocab_size, dim}, -0.05f, 0.05f, rng));
}

Variable Embedding::forward(const IndexTensor& ids) const {
  if (lookup_ && !grad_enabled()) {
    const int64_t v = vocab_size_, d = dim_;
    for (int32_t id : ids.data)
      BCQNMT_CHECK(id >= 0 && id < v, "embedding: id " + std::to_string(id) + " outside a vocabulary of " + std::to_string(v));
    Shape shape = ids.shape;
    shape.push_back(d);
    Tensor out(shape);
    lookup_->gather(ids.data.data(), ids.numel(), out.data());
    return Variable(out);
  }
  return embedding(transform_ ? transform_(table_) : table_, ids);
}

}  // namespace bcqnmt

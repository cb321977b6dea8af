// Embedding lookup: a gather of table rows; its backward scatter-adds into the table.
#include <cstring>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

Variable embedding(const Variable& table, const IndexTensor& ids) {
  const Tensor& tv = table.value();
  BCQNMT_CHECK(tv.dim() == 2, "embedding: table must be [V, D], got " + shape_str(tv.shape()));
  const int64_t v = tv.size(0), d = tv.size(1), n = ids.numel();
  for (int32_t id : ids.data)
    BCQNMT_CHECK(id >= 0 && id < v, "embedding: id " + std::to_string(id) + " outside a vocabulary of " + std::to_string(v));
  Shape out_shape = ids.shape;
  out_shape.push_back(d);
  Tensor out(out_shape);  // [..., D]
  const float* pt = tv.data();
  float* po = out.data();
  parallel_for(n, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(po + i * d, pt + ids.data[i] * d, d * sizeof(float));
  });
  return Variable::make_result(out, {table}, [ids = ids.data, d](Node& self) {
    // Sequential over tokens: a repeated id accumulates in a fixed order (deterministic).
    float* pg = self.inputs[0]->grad_buffer().data();
    const float* g = self.grad.data();
    for (size_t i = 0; i < ids.size(); ++i) {
      float* row = pg + ids[i] * d;
      for (int64_t j = 0; j < d; ++j) row[j] += g[i * d + j];
    }
  });
}

}  // namespace bcqnmt

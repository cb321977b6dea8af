// Full reductions, deterministic for any thread count (core/parallel.h's deterministic_sum).
#include <algorithm>

#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {

Variable scaled_sum(const Variable& x, float scale) {
  const double total = deterministic_sum(x.value().data(), x.numel(), [](float v) { return static_cast<double>(v); });
  Tensor out = Tensor::full({}, static_cast<float>(total) * scale);
  return Variable::make_result(out, {x}, [scale](Node& self) {
    self.inputs[0]->accumulate_grad(Tensor::full(self.inputs[0]->value.shape(), self.grad.item() * scale));
  });
}
}  // namespace

Variable sum(const Variable& x) { return scaled_sum(x, 1.0f); }
Variable mean(const Variable& x) { return scaled_sum(x, 1.0f / static_cast<float>(std::max<int64_t>(x.numel(), 1))); }

}  // namespace bcqnmt

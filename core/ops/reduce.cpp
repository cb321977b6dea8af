// Full reductions. Partial sums over fixed blocks, then the blocks in order: deterministic
// for any thread count.
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {
constexpr int64_t kBlock = 4096;

float blocked_sum(const Tensor& t) {
  const int64_t n = t.numel();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks, 0.0);
  const float* p = t.data();
  parallel_for(blocks, 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      for (int64_t i = k * kBlock; i < std::min(n, (k + 1) * kBlock); ++i) partial[k] += p[i];
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return static_cast<float>(total);
}

Variable scaled_sum(const Variable& x, float scale) {
  Tensor out = Tensor::full({}, blocked_sum(x.value()) * scale);
  return Variable::make_result(out, {x}, [scale](Node& self) {
    self.inputs[0]->accumulate_grad(Tensor::full(self.inputs[0]->value.shape(), self.grad.item() * scale));
  });
}
}  // namespace

Variable sum(const Variable& x) { return scaled_sum(x, 1.0f); }
Variable mean(const Variable& x) { return scaled_sum(x, 1.0f / static_cast<float>(std::max<int64_t>(x.numel(), 1))); }

}  // namespace bcqnmt

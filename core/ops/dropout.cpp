// Inverted dropout (Srivastava et al. 2014): y = x * keep / (1 - rate). The mask is not
// stored: it is a hash of (key, index), recomputed in backward from the same key.
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

namespace {
void apply_mask(const float* src, float* dst, int64_t n, uint64_t key, float rate) {
  const float scale = 1.0f / (1.0f - rate);
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = hash_uniform(key, i) >= rate ? src[i] * scale : 0.0f;
  });
}
}  // namespace

Variable dropout(const Variable& x, float rate, Rng& rng, bool training) {
  BCQNMT_CHECK(rate >= 0.0f && rate < 1.0f, "dropout: rate must be in [0, 1), got " + std::to_string(rate));
  if (!training || rate == 0.0f) return x;
  const uint64_t key = rng.next_u64();
  Tensor out(x.shape());
  apply_mask(x.value().data(), out.data(), out.numel(), key, rate);
  return Variable::make_result(out, {x}, [key, rate](Node& self) {
    Tensor g(self.grad.shape());
    apply_mask(self.grad.data(), g.data(), g.numel(), key, rate);
    self.inputs[0]->accumulate_grad(g);
  });
}

}  // namespace bcqnmt

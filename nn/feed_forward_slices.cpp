// FeedForward::sliced: the feed-forward sublayer's products by slices of its hidden units,
// for decoding on the thread team (nn/feed_forward.h).
#include <algorithm>

#include "core/execution_context.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/feed_forward.h"

namespace bcqnmt {

bool FeedForward::runs_by_slices(int64_t rows) const {
  if (training() || grad_enabled() || kernel_path() == KernelPath::reference) return false;
  const LinearKernel* inner = inner_.weight_state().kernel();
  const LinearKernel* outer = outer_.weight_state().kernel();
  const LinearKernel* gate = gate_ ? gate_->weight_state().kernel() : nullptr;
  if (!inner || !outer || (gate_ && !gate)) return false;
  const int64_t d = inner_.in_features(), f = inner_.out_features();
  for (int64_t u0 = 0; u0 < f; u0 += kSliceUnits) {
    const int64_t u1 = std::min(f, u0 + kSliceUnits);
    if (!inner->has_slice(rows, 0, d, u0, u1) || (gate && !gate->has_slice(rows, 0, d, u0, u1)) ||
        !outer->has_slice(rows, u0, u1, 0, outer_.out_features()))
      return false;
  }
  return true;
}

// The sublayer's products for a few rows (a decoding step, a short sentence's encoder), on
// the thread team, one task per group of slices of kSliceUnits hidden units: a slice's rows
// of Dense_F (and Gate_F), its relu, and its share of Dense_D, the product of Dense_D's input
// features of the slice with those units. At batch 1 the two products of the reference model were a few microseconds
// each, too little to hand to another thread one at a time; together they are one hand-off.
// The shares are summed in slice order (the bias with slice 0's), so the result depends on
// neither the thread count nor which thread ran which slice; it differs from the whole
// Dense_D product by the kernel's rounding only (LinearKernel::apply_slice). When it applies:
// runs_by_slices (the BCQ kernels of one bit width, at the batch sizes of the lookup-table
// path).
std::optional<Tensor> FeedForward::sliced(const Tensor& x) const {
  const int64_t d = inner_.in_features();
  if (x.dim() == 0 || x.size(-1) != d || !runs_by_slices(x.numel() / d)) return std::nullopt;
  const LinearKernel* inner = inner_.weight_state().kernel();
  const LinearKernel* outer = outer_.weight_state().kernel();
  const LinearKernel* gate = gate_ ? gate_->weight_state().kernel() : nullptr;
  const int64_t f = inner_.out_features(), n = x.numel() / d, out = outer_.out_features();
  const int64_t slices = (f + kSliceUnits - 1) / kSliceUnits;
  std::vector<float> hidden(static_cast<size_t>(n * f));                 // [N, F]
  std::vector<float> gates(gate ? static_cast<size_t>(n * f) : 0);       // [N, F]
  std::vector<float> shares(static_cast<size_t>(slices * n * out));      // [slices, N, D]
  // One task per thread: a task tabulates x once for all its slices.
  parallel_for(slices, grain_per_thread(slices), [&](int64_t s0, int64_t s1) {
    const int64_t u0 = s0 * kSliceUnits, u1 = std::min(f, s1 * kSliceUnits);
    const std::unique_ptr<LinearKernel::SliceInput> in = inner->prepare_slice(x.data(), n, d, 0, d);
    inner->apply_slice(*in, u0, u1, hidden.data(), f, true);
    if (gate) gate->apply_slice(*in, u0, u1, gates.data(), f, true);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t u = u0; u < u1; ++u) {
        float& h = hidden[static_cast<size_t>(r * f + u)];
        h = h > 0.0f ? h : 0.0f;  // relu, as core/ops
        if (gate) h *= gates[static_cast<size_t>(r * f + u)];
      }
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t v0 = s * kSliceUnits, v1 = std::min(f, v0 + kSliceUnits);
      const std::unique_ptr<LinearKernel::SliceInput> h = outer->prepare_slice(hidden.data() + v0, n, f, v0, v1);
      outer->apply_slice(*h, 0, out, shares.data() + s * n * out, out, /*with_bias=*/s == 0);
    }
  });
  Tensor y({n, out});  // [N, D]
  std::copy_n(shares.data(), n * out, y.data());
  for (int64_t s = 1; s < slices; ++s) {
    const float* share = shares.data() + s * n * out;
    for (int64_t i = 0; i < n * out; ++i) y.data()[i] += share[i];
  }
  return y;
}

}  // namespace bcqnmt

#include "nn/multi_head_attention.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/execution_context.h"
#include "core/parallel.h"
#include "nn/error.h"

namespace bcqnmt {

namespace {
// Keras stores these kernels as EinsumDense weights of rank 3 and computes their Glorot
// fans with the receptive-field rule (nn/initializers.h): Q/K/V [D, H, K] gives
// (H*D, K*D), the output [H, K, D] gives (K*H, D*H). For the reference model (D = K = 128,
// H = 8) that is a limit of 0.019 for Q/K/V and 0.054 for the output, where the 2-D rule
// would give 0.072 for all four. The larger start made the attention sub-layers' output
// (near-uniform averages of V at init, the same at every position) dominate the residual
// stream, and with it every position's encoder output (docs/training.md).
GlorotFans projection_fans(const ModelConfig& c) {
  return {int64_t{c.num_heads} * c.d_model, int64_t{c.key_dim} * c.d_model};
}
GlorotFans output_fans(const ModelConfig& c) {
  return {int64_t{c.key_dim} * c.num_heads, int64_t{c.d_model} * c.num_heads};
}
}  // namespace

MultiHeadAttention::MultiHeadAttention(const ModelConfig& c, Rng& rng)
    : query_(c.d_model, int64_t{c.num_heads} * c.key_dim, projection_fans(c), rng),
      key_(c.d_model, int64_t{c.num_heads} * c.key_dim, projection_fans(c), rng),
      value_(c.d_model, int64_t{c.num_heads} * c.key_dim, projection_fans(c), rng),
      output_(int64_t{c.num_heads} * c.key_dim, c.d_model, output_fans(c), rng),
      heads_(c.num_heads),
      dropout_rate_(c.dropout_rate),
      rng_(&rng) {
  register_module("query", query_);
  register_module("key", key_);
  register_module("value", value_);
  register_module("attention_output", output_);
}

Variable MultiHeadAttention::forward(const Variable& query, const Variable& context, const AttentionMask& mask) const {
  Variable q = query_.forward(query);    // [B, Tq, H*K]
  Variable k = key_.forward(context);    // [B, Tk, H*K]
  Variable v = value_.forward(context);  // [B, Tk, H*K]
  if (probability_sink_ != nullptr) probability_sink_->push_back(attention_probabilities(q.value(), k.value(), mask, heads_));
  return output_.forward(attention(q, k, v, mask, heads_, dropout_rate_, *rng_, training()));  // [B, Tq, D]
}

Variable MultiHeadAttention::forward_cached(const Variable& query, const Variable& context, const AttentionMask& mask,
                                            KvCache& cache, bool grow) const {
  if (std::optional<Variable> y = step_by_heads(query.value(), context, mask, cache, grow)) return *y;
  if (grow || cache.empty())
    cache.append(key_.forward(context).value(), value_.forward(context).value());  // [C, t, H*K] each
  const Tensor q = query_.forward(query).value();                                   // [B, Tq, H*K]
  const int64_t b = q.size(0), tq = q.size(1), c = cache.keys.size(0);
  if (b % c != 0 || (b != c && mask.causal))
    throw NnError("attention: " + std::to_string(b) + " query rows cannot share " + std::to_string(c) +
                  " cached rows" + (mask.causal ? " under a causal mask" : ""));
  // Each group of B / C consecutive query rows shares one cached row (beam search: a
  // sentence's hypotheses and its source), so the group is that row's B / C * Tq query
  // positions: one small GEMM per head over one copy of the keys, not B / C GEMVs over copies.
  const Tensor grouped = q.reshape({c, b / c * tq, q.size(2)});  // [C, B / C * Tq, H*K]
  if (probability_sink_ != nullptr)
    probability_sink_->push_back(attention_probabilities(grouped, cache.filled_keys(), mask, heads_));
  const Tensor mixed = attention_prefix(grouped, cache.keys, cache.values, cache.length, mask, heads_);
  return Variable(output_by_halves(mixed.reshape({b * tq, q.size(2)})).reshape({b, tq, output_.out_features()}));
}

bool MultiHeadAttention::steps_by_heads(int64_t rows, bool grow) const {
  if (grad_enabled() || kernel_path() == KernelPath::reference || probability_sink_ != nullptr) return false;
  const LinearKernel* q_kernel = query_.weight_state().kernel();
  const LinearKernel* k_kernel = key_.weight_state().kernel();
  const LinearKernel* v_kernel = value_.weight_state().kernel();
  if (!q_kernel || !k_kernel || !v_kernel) return false;
  const int64_t d = query_.in_features(), kd = query_.out_features() / heads_;
  for (int64_t h = 0; h < heads_; ++h)
    if (!q_kernel->has_slice(rows, 0, d, h * kd, (h + 1) * kd) ||
        (grow && !(k_kernel->has_slice(rows, 0, d, h * kd, (h + 1) * kd) &&
                   v_kernel->has_slice(rows, 0, d, h * kd, (h + 1) * kd))))
      return false;
  return true;
}

// A decoding step (one query position per row) with Q, K, V and the attention on the thread
// team as one task per group of heads: the heads' rows of the Q, K and V products (K and V
// straight into the cache), then their attention. Run as separate parallel loops, a batch-1
// step of the reference model handed work to the other thread 4 times per attention layer
// (Q, K, V, attention), each a few microseconds of work, and each hand-off and join cost
// ~0.25 us on this project's 2-vCPU machines (docs/performance.md, "A decoding step in few
// tasks"). Here it is once, and the task tabulates its input once for the three products.
// Every row and head is computed as the separate loops compute it, so the output is
// bit-identical to theirs, on any number of threads. The output projection, which needs
// every head, follows by halves (output_by_halves). When it applies: steps_by_heads (the BCQ
// kernels of one bit width, at the batch sizes of the lookup-table path).
std::optional<Variable> MultiHeadAttention::step_by_heads(const Tensor& query, const Variable& context,
                                                          const AttentionMask& mask, KvCache& cache, bool grow) const {
  if (query.dim() != 3 || query.size(1) != 1 || query.size(2) != query_.in_features() ||
      !steps_by_heads(query.size(0), grow))
    return std::nullopt;
  const LinearKernel* q_kernel = query_.weight_state().kernel();
  const LinearKernel* k_kernel = key_.weight_state().kernel();
  const LinearKernel* v_kernel = value_.weight_state().kernel();
  const int64_t b = query.size(0), d = query.size(2), width = query_.out_features(), kd = width / heads_;
  if (!grow && cache.empty())  // cross-attention's first step: its keys and values, once
    cache.append(key_.forward(context).value(), value_.forward(context).value());
  const int64_t c = grow ? b : cache.keys.size(0);
  if (b % c != 0 || (b != c && mask.causal))
    throw NnError("attention: " + std::to_string(b) + " query rows cannot share " + std::to_string(c) +
                  " cached rows" + (mask.causal ? " under a causal mask" : ""));
  if (grow) cache.reserve(b, 1, width);
  const int64_t keys = cache.length + (grow ? 1 : 0);
  const int64_t cache_stride = cache.keys.size(1) * width;  // between rows of the cache
  Tensor q({c, b / c, width});      // [C, B / C, H*K]: each cached row's queries (attention_prefix)
  Tensor mixed({c, b / c, width});  // attention outputs, the same layout
  // One task per thread: a task tabulates its input once for all its heads.
  parallel_for(heads_, grain_per_thread(heads_), [&](int64_t h0, int64_t h1) {
    const std::unique_ptr<LinearKernel::SliceInput> x = q_kernel->prepare_slice(query.data(), b, d, 0, d);
    // The task's heads are one run of rows of each matrix, read front to back.
    q_kernel->apply_slice(*x, h0 * kd, h1 * kd, q.data(), width, true);
    if (grow) {
      k_kernel->apply_slice(*x, h0 * kd, h1 * kd, cache.keys.data() + cache.length * width, cache_stride, true);
      v_kernel->apply_slice(*x, h0 * kd, h1 * kd, cache.values.data() + cache.length * width, cache_stride, true);
    }
    attention_prefix_heads(q, cache.keys, cache.values, keys, mask, heads_, h0, h1, mixed);
  });
  if (grow) cache.length += 1;
  return Variable(output_by_halves(mixed.reshape({b, width})).reshape({b, 1, output_.out_features()}));
}

// The output projection of cached attention, [N, H*K] -> [N, D], as two products, of the
// first and the last half of the heads' outputs, one task each, summed in that order (the
// bias with the first). Row by row, the 8 tiles of the reference model's 128 x 1024 product
// split 5 to 3 between the threads (whole chunks of ~1 us), after the calling thread alone
// had tabulated all 1,024 inputs; by halves, each thread tabulates and multiplies half. The
// halves are the same on any number of threads, so the bits are too. The whole product
// without sliced products (dense weights, the reference kernel path) or with one head.
Tensor MultiHeadAttention::output_by_halves(const Tensor& mixed) const {
  const int64_t n = mixed.size(0), width = mixed.size(1), out = output_.out_features();
  const int64_t split = (heads_ + 1) / 2 * (width / heads_);  // the second half's first input
  const LinearKernel* kernel = output_.weight_state().kernel();
  if (!kernel || kernel_path() == KernelPath::reference || split == width ||
      !kernel->has_slice(n, 0, split, 0, out) || !kernel->has_slice(n, split, width, 0, out))
    return output_.forward(Variable(mixed)).value();
  std::vector<float> shares(static_cast<size_t>(2 * n * out));  // [2, N, D]
  parallel_for(2, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t half = h0; half < h1; ++half) {
      const int64_t c0 = half == 0 ? 0 : split, c1 = half == 0 ? split : width;
      const std::unique_ptr<LinearKernel::SliceInput> x = kernel->prepare_slice(mixed.data() + c0, n, width, c0, c1);
      kernel->apply_slice(*x, 0, out, shares.data() + half * n * out, out, /*with_bias=*/half == 0);
    }
  });
  Tensor y({n, out});
  const float* second = shares.data() + n * out;
  for (int64_t i = 0; i < n * out; ++i) y.data()[i] = shares[static_cast<size_t>(i)] + second[i];
  return y;
}

void KvCache::reserve(int64_t b, int64_t t, int64_t width) {
  const int64_t capacity = keys.defined() ? keys.size(1) : 0;
  if (length + t > capacity) {
    // The first storage holds 64 positions, more than most outputs need, so most batches
    // never grow their caches (each growth copies and re-faults every filled position).
    // Positions past `length` are never written, so the unused ones cost address space,
    // not memory: the pages of fresh storage are mapped when first written.
    const int64_t grown = std::max({2 * capacity, length + t, int64_t{64}});
    // Positions past `length` are never read (attention_prefix, select_rows and
    // filled_keys stop there), so the new storage is left as allocated: zeroing it was a
    // third pass over memory the page faults already clear.
    for (Tensor* store : {&keys, &values}) {
      Tensor bigger({b, grown, width});
      if (length > 0)
        for (int64_t n = 0; n < b; ++n)
          std::copy_n(store->data() + n * capacity * width, length * width, bigger.data() + n * grown * width);
      *store = bigger;
    }
  }
}

void KvCache::append(const Tensor& k, const Tensor& v) {
  const int64_t b = k.size(0), t = k.size(1), width = k.size(2);
  reserve(b, t, width);
  const int64_t stride = keys.size(1) * width;
  for (int64_t n = 0; n < b; ++n) {
    std::copy_n(k.data() + n * t * width, t * width, keys.data() + n * stride + length * width);
    std::copy_n(v.data() + n * t * width, t * width, values.data() + n * stride + length * width);
  }
  length += t;
}

void KvCache::select_rows(const std::vector<int32_t>& rows) {
  if (!keys.defined()) return;
  const int64_t b = keys.size(0), stride = keys.size(1) * keys.size(2), filled = length * keys.size(2);
  const auto n = static_cast<int64_t>(rows.size());
  if (n > b) {
    for (Tensor* store : {&keys, &values}) {
      Tensor wider({n, store->size(1), store->size(2)});
      for (int64_t r = 0; r < n; ++r) std::copy_n(store->data() + rows[r] * stride, filled, wider.data() + r * stride);
      *store = wider;
    }
    return;
  }
  std::vector<int64_t> direct, staged;  // rows whose contents change: copied directly, through scratch_
  std::vector<bool> overwritten(b, false);
  for (int64_t r = 0; r < n; ++r) overwritten[r] = rows[r] != r;
  for (int64_t r = 0; r < n; ++r)
    if (overwritten[r]) (overwritten[rows[r]] ? staged : direct).push_back(r);
  // A source that no move overwrites can be copied from at any time; the others are read
  // into scratch_ before any row is written, so any mapping works in place. Beam search's
  // moves (forks into freed rows, blocks moved into holes) are almost all direct.
  scratch_.resize(staged.size() * filled);
  for (Tensor* store : {&keys, &values}) {
    float* data = store->data();
    for (size_t i = 0; i < staged.size(); ++i) std::copy_n(data + rows[staged[i]] * stride, filled, scratch_.data() + i * filled);
    for (int64_t r : direct) std::copy_n(data + rows[r] * stride, filled, data + r * stride);
    for (size_t i = 0; i < staged.size(); ++i) std::copy_n(scratch_.data() + i * filled, filled, data + staged[i] * stride);
    if (n < b) *store = store->rows(0, n);
  }
}

Tensor KvCache::filled_keys() const { return slice(Variable(keys), 1, 0, length).value(); }

Tensor attention_probabilities(const Tensor& q, const Tensor& k, const AttentionMask& mask, int heads) {
  NoGradGuard no_grad;
  const int64_t b = q.size(0), tq = q.size(1), tk = k.size(1), kd = q.size(2) / heads;
  Variable qh = permute(reshape(Variable(q), {b, tq, heads, kd}), {0, 2, 1, 3});  // [B, H, Tq, K]
  Variable kh = permute(reshape(Variable(k), {b, tk, heads, kd}), {0, 2, 1, 3});  // [B, H, Tk, K]
  Variable scores = mul_scalar(matmul(qh, kh, false, true), 1.0f / std::sqrt(static_cast<float>(kd)));  // [B, H, Tq, Tk]
  return softmax(scores, mask.additive(tq, tk)).value();
}

}  // namespace bcqnmt

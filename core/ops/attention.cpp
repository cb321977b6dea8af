// Scaled dot-product attention (Vaswani et al. 2017), fused, and its composed reference.
//
// Per (batch b, head h), with scale c = 1/sqrt(K) and n_i the keys query i may see:
//   s_ij = c <q_i, k_j>          p_i = softmax(s_i[0..n_i))       pd_ij = p_ij m_ij / (1 - rate)
//   o_i  = sum_j pd_ij v_j
// Backward, given do_i:
//   dv_j += pd_ij do_i           dpd_ij = <do_i, v_j>             dp_ij = dpd_ij m_ij / (1 - rate)
//   ds_ij = p_ij (dp_ij - sum_l p_il dp_il)
//   dq_i = c sum_j ds_ij k_j     dk_j += c ds_ij q_i
// In matrix form these are five small GEMMs per (b, h) — S = c Q K^T, O = Pd V,
// dPd = dO V^T, dV = Pd^T dO, dQ = c dS K, dK = c dS^T Q — run single-threaded on the
// heads' strided rows inside a parallel loop over batch x heads. Padded keys (past the
// row's length) are left out of every product rather than computed and masked: with
// right-padded batches that is much of the work. Each (b, h) task writes only its own
// head's columns of dq/dk/dv, so the parallel backward has no races and is deterministic.
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/gemm.h"
#include "core/execution_context.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"

namespace bcqnmt {

Tensor AttentionMask::additive(int64_t tq, int64_t tk) const {
  const int64_t b = static_cast<int64_t>(key_lengths.size());
  Tensor m({b, 1, tq, tk});
  for (int64_t n = 0; n < b; ++n)
    for (int64_t i = 0; i < tq; ++i)
      for (int64_t j = 0; j < tk; ++j) {
        const bool visible = j < key_lengths[n] && (!causal || j <= i + tk - tq);
        m.data()[(n * tq + i) * tk + j] = visible ? 0.0f : -1e9f;
      }
  return m;
}

namespace {

struct AttentionShape {
  int64_t b, tq, tk, h, k;
  int64_t kv_positions;  // positions per batch entry in k/v storage: tk, or a cache's capacity
  int64_t row() const { return h * k; }  // floats between consecutive positions
};

int64_t visible_keys(const AttentionMask& mask, const AttentionShape& s, int64_t batch, int64_t i) {
  int64_t n = std::min<int64_t>(mask.key_lengths[batch], s.tk);
  if (mask.causal) n = std::min<int64_t>(n, i + s.tk - s.tq + 1);
  return std::max<int64_t>(n, 0);
}

// Dropout keeps probability (row, j) when the hash of its flat index in [B, H, Tq, Tk] —
// the same index the reference path's dropout op uses — is >= rate. The forward pass
// draws each decision once and records it as a byte, [B, H, Tq, Tk], which backward
// reads instead of hashing again (the hashes were ~4% of a training step).
void draw_dropout(const AttentionShape& s, int64_t b, int64_t h, int64_t lk, uint64_t key, float rate, uint8_t* kept) {
  for (int64_t i = 0; i < s.tq; ++i) {
    const int64_t row = ((b * s.h + h) * s.tq + i) * s.tk;
    for (int64_t j = 0; j < lk; ++j) kept[row + j] = hash_uniform(key, static_cast<uint64_t>(row + j)) >= rate;
  }
}

// Per (b, h), on contiguous scratch: probabilities after dropout, pd [Tq, Lk].
void dropped_probabilities(const AttentionShape& s, int64_t b, int64_t h, const float* p, int64_t lk, float rate,
                           const uint8_t* kept, float* pd) {
  const float scale = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < s.tq; ++i) {
    const int64_t row = ((b * s.h + h) * s.tq + i) * s.tk;
    for (int64_t j = 0; j < lk; ++j) pd[i * lk + j] = kept[row + j] ? p[row + j] * scale : 0.0f;
  }
}

// One (b, h). The score and value products are small GEMMs on the heads' strided rows
// (leading dimension H*K), run on this thread; only the Lk unpadded keys are touched.
// Writes probabilities p [Tq, Tk] (zero where masked) and output o.
void attend_forward(const AttentionShape& s, const AttentionMask& mask, int64_t b, int64_t h, const float* q,
                    const float* k, const float* v, float* p, float* o, uint64_t key, float rate, uint8_t* kept,
                    std::vector<float>& scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  const int64_t base = b * s.tq * s.row() + h * s.k;
  const int64_t kv_base = b * s.kv_positions * s.row() + h * s.k;
  const int64_t lk = visible_keys(mask, s, b, s.tq - 1);  // keys of the widest (last) row
  float* pb = p + (b * s.h + h) * s.tq * s.tk;  // [Tq, Tk]
  gemm_serial(false, true, s.tq, lk, s.k, scale, q + base, s.row(), k + kv_base, s.row(), 0.0f, pb, s.tk);
  for (int64_t i = 0; i < s.tq; ++i) {
    float* pi = pb + i * s.tk;
    const int64_t n = visible_keys(mask, s, b, i);
    if (n > 0) {
      const float inv = 1.0f / exp_shifted(pi, n, max_of(pi, n), pi);
      for (int64_t j = 0; j < n; ++j) pi[j] *= inv;
    }
    std::fill(pi + n, pi + s.tk, 0.0f);
  }
  const float* weights = pb;
  int64_t ld = s.tk;
  if (rate > 0.0f) {
    scratch.resize(s.tq * lk);
    draw_dropout(s, b, h, lk, key, rate, kept);
    dropped_probabilities(s, b, h, p, lk, rate, kept, scratch.data());
    weights = scratch.data();
    ld = lk;
  }
  gemm_serial(false, false, s.tq, s.k, lk, 1.0f, weights, ld, v + kv_base, s.row(), 0.0f, o + base, s.row());
  if (lk == 0)
    for (int64_t i = 0; i < s.tq; ++i) std::fill(o + base + i * s.row(), o + base + i * s.row() + s.k, 0.0f);
}

void attend_backward(const AttentionShape& s, const AttentionMask& mask, int64_t b, int64_t h, const float* q,
                     const float* k, const float* v, const float* p, const float* d_o, float* dq, float* dk,
                     float* dv, float rate, const uint8_t* kept, std::vector<float>& scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  const int64_t base = b * s.tq * s.row() + h * s.k;
  const int64_t kv_base = b * s.kv_positions * s.row() + h * s.k;
  const int64_t lk = visible_keys(mask, s, b, s.tq - 1);
  const float* pb = p + (b * s.h + h) * s.tq * s.tk;
  scratch.resize(2 * s.tq * std::max<int64_t>(lk, 1));
  float* ds = scratch.data();           // dP, then dS, [Tq, Lk]
  float* pd = ds + s.tq * lk;           // probabilities after dropout, [Tq, Lk]
  const float* weights = pb;
  int64_t ld = s.tk;
  if (rate > 0.0f) {
    dropped_probabilities(s, b, h, p, lk, rate, kept, pd);
    weights = pd;
    ld = lk;
  }
  // Keys past Lk get no gradient: zero those rows of dK and dV.
  for (int64_t j = lk; j < s.tk; ++j) {
    if (dk) std::fill(dk + kv_base + j * s.row(), dk + kv_base + j * s.row() + s.k, 0.0f);
    if (dv) std::fill(dv + kv_base + j * s.row(), dv + kv_base + j * s.row() + s.k, 0.0f);
  }
  if (dv) gemm_serial(true, false, lk, s.k, s.tq, 1.0f, weights, ld, d_o + base, s.row(), 0.0f, dv + kv_base, s.row());
  gemm_serial(false, true, s.tq, lk, s.k, 1.0f, d_o + base, s.row(), v + kv_base, s.row(), 0.0f, ds, lk);
  for (int64_t i = 0; i < s.tq; ++i) {
    const float* pi = pb + i * s.tk;
    float* dsi = ds + i * lk;
    if (rate > 0.0f) {
      const uint8_t* kept_i = kept + ((b * s.h + h) * s.tq + i) * s.tk;
      const float scale = 1.0f / (1.0f - rate);
      for (int64_t j = 0; j < lk; ++j) dsi[j] = kept_i[j] ? dsi[j] * scale : 0.0f;
    }
    float weighted = 0.0f;
    for (int64_t j = 0; j < lk; ++j) weighted += pi[j] * dsi[j];
    for (int64_t j = 0; j < lk; ++j) dsi[j] = pi[j] * (dsi[j] - weighted);  // masked: p = 0 -> 0
  }
  if (dq) {
    if (lk == 0)
      for (int64_t i = 0; i < s.tq; ++i) std::fill(dq + base + i * s.row(), dq + base + i * s.row() + s.k, 0.0f);
    gemm_serial(false, false, s.tq, s.k, lk, scale, ds, lk, k + kv_base, s.row(), 0.0f, dq + base, s.row());
  }
  if (dk) gemm_serial(true, false, lk, s.k, s.tq, scale, ds, lk, q + base, s.row(), 0.0f, dk + kv_base, s.row());
}

// What one (batch, head) task of `gemms` small products costs, for the threading rule of
// core/parallel.h (an estimate, not a measurement): ~0.3 us of OpenBLAS call overhead per
// product at these sizes plus ~0.25 ns per multiply-add. A batch-1 decoding step (Tq = 1,
// 8 heads) is a few microseconds and stays on the calling thread; a training batch splits.
int64_t head_grain(const AttentionShape& s, int gemms) {
  return grain_for_cost(static_cast<double>(gemms) * (300.0 + 0.25 * static_cast<double>(s.tq * s.tk * s.k)));
}

// The forward pass, parallel over batch x heads.
void attend_all(const AttentionShape& s, const AttentionMask& mask, const float* q, const float* k, const float* v,
                float* p, float* o, uint64_t key, float rate, uint8_t* kept) {
  parallel_for(s.b * s.h, head_grain(s, 2), [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch;
    for (int64_t t = lo; t < hi; ++t) attend_forward(s, mask, t / s.h, t % s.h, q, k, v, p, o, key, rate, kept, scratch);
  });
}

AttentionShape attention_shape(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                               int heads) {
  BCQNMT_CHECK(q.dim() == 3 && k.dim() == 3 && v.shape() == k.shape() && q.size(0) == k.size(0) &&
                   q.size(2) == k.size(2),
               "attention: q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " + shape_str(v.shape()) +
                   " are not [B, Tq, H*K], [B, Tk, H*K], [B, Tk, H*K]");
  BCQNMT_CHECK(heads > 0 && q.size(2) % heads == 0,
               "attention: width " + std::to_string(q.size(2)) + " does not split into " + std::to_string(heads) + " heads");
  BCQNMT_CHECK(static_cast<int64_t>(mask.key_lengths.size()) == q.size(0),
               "attention: " + std::to_string(mask.key_lengths.size()) + " key lengths for a batch of " +
                   std::to_string(q.size(0)));
  return {q.size(0), q.size(1), k.size(1), heads, q.size(2) / heads, k.size(1)};
}

}  // namespace

Variable attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask, int heads,
                   float dropout_rate, Rng& rng, bool training) {
  if (kernel_path() == KernelPath::reference)
    return attention_reference(q, k, v, mask, heads, dropout_rate, rng, training);
  const AttentionShape s = attention_shape(q, k, v, mask, heads);
  const float rate = training ? dropout_rate : 0.0f;
  const uint64_t key = rate > 0.0f ? rng.next_u64() : 0;
  Tensor out(q.shape());                 // [B, Tq, H*K]
  Tensor probs({s.b, s.h, s.tq, s.tk});  // [B, H, Tq, Tk], kept for backward
  // Dropout decisions [B, H, Tq, Tk], one byte each; only the visible keys' are written.
  const std::shared_ptr<uint8_t[]> kept(rate > 0.0f ? new uint8_t[s.b * s.h * s.tq * s.tk] : nullptr);
  const Tensor qv = q.value(), kv = k.value(), vv = v.value();
  attend_all(s, mask, qv.data(), kv.data(), vv.data(), probs.data(), out.data(), key, rate, kept.get());
  return Variable::make_result(out, {q, k, v}, [s, mask, qv, kv, vv, probs, kept, rate](Node& self) {
    Node& nq = *self.inputs[0];
    Node& nk = *self.inputs[1];
    Node& nv = *self.inputs[2];
    // Own buffers, then accumulate: an input may be used twice (self-attention q = k = v).
    // Every element is written by the per-head kernels, so no zero fill.
    Tensor dq(qv.shape()), dk(kv.shape()), dv(vv.shape());
    parallel_for(s.b * s.h, head_grain(s, 5), [&](int64_t lo, int64_t hi) {
      std::vector<float> scratch;
      for (int64_t t = lo; t < hi; ++t)
        attend_backward(s, mask, t / s.h, t % s.h, qv.data(), kv.data(), vv.data(), probs.data(), self.grad.data(),
                        nq.requires_grad ? dq.data() : nullptr, nk.requires_grad ? dk.data() : nullptr,
                        nv.requires_grad ? dv.data() : nullptr, rate, kept.get(), scratch);
    });
    if (nq.requires_grad) nq.accumulate_grad(dq);
    if (nk.requires_grad) nk.accumulate_grad(dk);
    if (nv.requires_grad) nv.accumulate_grad(dv);
  });
}

Tensor attention_prefix(const Tensor& q, const Tensor& k, const Tensor& v, int64_t tk, const AttentionMask& mask,
                        int heads) {
  AttentionShape s = attention_shape(Variable(q), Variable(k), Variable(v), mask, heads);
  BCQNMT_CHECK(tk >= 0 && tk <= s.tk, "attention_prefix: " + std::to_string(tk) + " keys of a cache holding " +
                                          std::to_string(s.tk) + " positions");
  if (kernel_path() == KernelPath::reference) {
    NoGradGuard no_grad;
    Rng unused(0);
    return attention_reference(Variable(q), slice(Variable(k), 1, 0, tk), slice(Variable(v), 1, 0, tk), mask, heads,
                               0.0f, unused, false)
        .value();
  }
  s.tk = tk;
  Tensor out(q.shape());                 // [B, Tq, H*K]
  Tensor probs({s.b, s.h, s.tq, s.tk});  // [B, H, Tq, Tk], scratch
  attend_all(s, mask, q.data(), k.data(), v.data(), probs.data(), out.data(), 0, 0.0f, nullptr);
  return out;
}

void attention_prefix_heads(const Tensor& q, const Tensor& k, const Tensor& v, int64_t tk, const AttentionMask& mask,
                            int heads, int64_t h0, int64_t h1, Tensor& out) {
  AttentionShape s = attention_shape(Variable(q), Variable(k), Variable(v), mask, heads);
  BCQNMT_CHECK(tk >= 0 && tk <= s.tk && h0 >= 0 && h0 <= h1 && h1 <= s.h && out.shape() == q.shape(),
               "attention_prefix_heads: heads [" + std::to_string(h0) + ", " + std::to_string(h1) + ") of " +
                   std::to_string(s.h) + ", " + std::to_string(tk) + " keys of " + std::to_string(s.tk) +
                   ", output " + shape_str(out.shape()) + " for queries " + shape_str(q.shape()));
  s.tk = tk;
  std::vector<float> probs(static_cast<size_t>(s.b * s.h * s.tq * s.tk));  // [B, H, Tq, Tk], scratch
  std::vector<float> unused;
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t h = h0; h < h1; ++h)
      attend_forward(s, mask, b, h, q.data(), k.data(), v.data(), probs.data(), out.data(), 0, 0.0f, nullptr, unused);
}

Variable attention_reference(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                             int heads, float dropout_rate, Rng& rng, bool training) {
  const AttentionShape s = attention_shape(q, k, v, mask, heads);
  auto split_heads = [&](const Variable& x, int64_t t) {  // [B, T, H*K] -> [B, H, T, K]
    return permute(reshape(x, {s.b, t, s.h, s.k}), {0, 2, 1, 3});
  };
  Variable scores = mul_scalar(matmul(split_heads(q, s.tq), split_heads(k, s.tk), false, true),
                               1.0f / std::sqrt(static_cast<float>(s.k)));  // [B, H, Tq, Tk]
  Variable probs = dropout(softmax(scores, mask.additive(s.tq, s.tk)), dropout_rate, rng, training);
  Variable out = matmul(probs, split_heads(v, s.tk));                    // [B, H, Tq, K]
  return reshape(permute(out, {0, 2, 1, 3}), {s.b, s.tq, s.h * s.k});  // [B, Tq, H*K]
}

}  // namespace bcqnmt

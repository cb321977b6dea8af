// Scaled dot-product attention (Vaswani et al. 2017), fused, and its composed reference.
//
// Per (batch b, head h), with scale c = 1/sqrt(K) and n_i the keys query i may see:
//   s_ij = c <q_i, k_j>          p_i = softmax(s_i[0..n_i))       pd_ij = p_ij m_ij / (1 - rate)
//   o_i  = sum_j pd_ij v_j
// Backward, given do_i:
//   dv_j += pd_ij do_i           dpd_ij = <do_i, v_j>             dp_ij = dpd_ij m_ij / (1 - rate)
//   ds_ij = p_ij (dp_ij - sum_l p_il dp_il)
//   dq_i = c sum_j ds_ij k_j     dk_j += c ds_ij q_i
// Masked keys are skipped, not computed and thrown away: with right-padded batches that
// is most of the work saved. Each (b, h) task writes only its own head's columns of
// dq/dk/dv, so the parallel backward has no races and is deterministic.
#include <cmath>

#include "core/error.h"
#include "core/kernel_path.h"
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
  int64_t row() const { return h * k; }  // floats between consecutive positions
};

int64_t visible_keys(const AttentionMask& mask, const AttentionShape& s, int64_t batch, int64_t i) {
  int64_t n = std::min<int64_t>(mask.key_lengths[batch], s.tk);
  if (mask.causal) n = std::min<int64_t>(n, i + s.tk - s.tq + 1);
  return std::max<int64_t>(n, 0);
}

// Dot product and axpy with independent accumulators: the compiler vectorises them, and
// the target clones pick AVX-512 or AVX2 at run time while the default build stays portable.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// One (b, h): probabilities p [Tq, Tk] (zero where masked) and output o.
void attend_forward(const AttentionShape& s, const AttentionMask& mask, int64_t b, int64_t h, const float* q,
                    const float* k, const float* v, float* p, float* o, uint64_t key, float rate) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  const float keep_scale = 1.0f / (1.0f - rate);
  const int64_t base = b * s.tq * s.row() + h * s.k;
  const int64_t kv_base = b * s.tk * s.row() + h * s.k;
  for (int64_t i = 0; i < s.tq; ++i) {
    const int64_t n = visible_keys(mask, s, b, i);
    const float* qi = q + base + i * s.row();
    float* pi = p + ((b * s.h + h) * s.tq + i) * s.tk;
    float* oi = o + base + i * s.row();
    std::fill(pi, pi + s.tk, 0.0f);
    std::fill(oi, oi + s.k, 0.0f);
    if (n == 0) continue;
    for (int64_t j = 0; j < n; ++j) pi[j] = scale * dot(qi, k + kv_base + j * s.row(), s.k);
    const float inv = 1.0f / exp_shifted(pi, n, max_of(pi, n), pi);
    const uint64_t row_index = ((b * s.h + h) * s.tq + i) * s.tk;
    for (int64_t j = 0; j < n; ++j) {
      pi[j] *= inv;
      float w = pi[j];
      if (rate > 0.0f) w = hash_uniform(key, row_index + j) >= rate ? w * keep_scale : 0.0f;
      if (w != 0.0f) axpy(w, v + kv_base + j * s.row(), oi, s.k);
    }
  }
}

void attend_backward(const AttentionShape& s, const AttentionMask& mask, int64_t b, int64_t h, const float* q,
                     const float* k, const float* v, const float* p, const float* d_o, float* dq, float* dk,
                     float* dv, uint64_t key, float rate, std::vector<float>& dp) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  const float keep_scale = 1.0f / (1.0f - rate);
  const int64_t base = b * s.tq * s.row() + h * s.k;
  const int64_t kv_base = b * s.tk * s.row() + h * s.k;
  dp.resize(s.tk);
  for (int64_t i = 0; i < s.tq; ++i) {
    const int64_t n = visible_keys(mask, s, b, i);
    const float* pi = p + ((b * s.h + h) * s.tq + i) * s.tk;
    const float* doi = d_o + base + i * s.row();
    const uint64_t row_index = ((b * s.h + h) * s.tq + i) * s.tk;
    float weighted = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      float m = 1.0f;
      if (rate > 0.0f) m = hash_uniform(key, row_index + j) >= rate ? keep_scale : 0.0f;
      if (dv && m != 0.0f) axpy(pi[j] * m, doi, dv + kv_base + j * s.row(), s.k);
      dp[j] = m != 0.0f ? m * dot(doi, v + kv_base + j * s.row(), s.k) : 0.0f;
      weighted += pi[j] * dp[j];
    }
    const float* qi = q + base + i * s.row();
    float* dqi = dq ? dq + base + i * s.row() : nullptr;
    for (int64_t j = 0; j < n; ++j) {
      const float ds = scale * pi[j] * (dp[j] - weighted);
      if (ds == 0.0f) continue;
      if (dqi) axpy(ds, k + kv_base + j * s.row(), dqi, s.k);
      if (dk) axpy(ds, qi, dk + kv_base + j * s.row(), s.k);
    }
  }
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
  return {q.size(0), q.size(1), k.size(1), heads, q.size(2) / heads};
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
  const Tensor qv = q.value(), kv = k.value(), vv = v.value();
  parallel_for(s.b * s.h, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t)
      attend_forward(s, mask, t / s.h, t % s.h, qv.data(), kv.data(), vv.data(), probs.data(), out.data(), key, rate);
  });
  return Variable::make_result(out, {q, k, v}, [s, mask, qv, kv, vv, probs, key, rate](Node& self) {
    Node& nq = *self.inputs[0];
    Node& nk = *self.inputs[1];
    Node& nv = *self.inputs[2];
    // Own buffers, then accumulate: an input may be used twice (self-attention q = k = v).
    Tensor dq = Tensor::zeros(qv.shape()), dk = Tensor::zeros(kv.shape()), dv = Tensor::zeros(vv.shape());
    parallel_for(s.b * s.h, 1, [&](int64_t lo, int64_t hi) {
      std::vector<float> scratch;
      for (int64_t t = lo; t < hi; ++t)
        attend_backward(s, mask, t / s.h, t % s.h, qv.data(), kv.data(), vv.data(), probs.data(), self.grad.data(),
                        nq.requires_grad ? dq.data() : nullptr, nk.requires_grad ? dk.data() : nullptr,
                        nv.requires_grad ? dv.data() : nullptr, key, rate, scratch);
    });
    if (nq.requires_grad) nq.accumulate_grad(dq);
    if (nk.requires_grad) nk.accumulate_grad(dk);
    if (nv.requires_grad) nv.accumulate_grad(dv);
  });
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

#include "nn/multi_head_attention.h"

#include <cmath>

namespace bcqnmt {

MultiHeadAttention::MultiHeadAttention(const ModelConfig& c, Rng& rng)
    : query_(c.d_model, int64_t{c.num_heads} * c.key_dim, rng),
      key_(c.d_model, int64_t{c.num_heads} * c.key_dim, rng),
      value_(c.d_model, int64_t{c.num_heads} * c.key_dim, rng),
      output_(int64_t{c.num_heads} * c.key_dim, c.d_model, rng),
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
  return output_.forward(attention(q, k, v, mask, heads_, dropout_rate_, *rng_, training()));  // [B, Tq, D]
}

Variable MultiHeadAttention::forward_cached(const Variable& query, const Variable& context, const AttentionMask& mask,
                                            KvCache& cache, bool grow) const {
  if (grow || cache.empty()) {
    Variable k = key_.forward(context);    // [B, t, H*K]
    Variable v = value_.forward(context);  // [B, t, H*K]
    if (grow && !cache.empty()) {
      k = concat({Variable(cache.keys), k}, 1);
      v = concat({Variable(cache.values), v}, 1);
    }
    cache.keys = k.value();
    cache.values = v.value();
  }
  Variable q = query_.forward(query);  // [B, Tq, H*K]
  if (probability_sink_ != nullptr)
    probability_sink_->push_back(attention_probabilities(q.value(), cache.keys, mask, heads_));
  return output_.forward(
      attention(q, Variable(cache.keys), Variable(cache.values), mask, heads_, dropout_rate_, *rng_, training()));
}

Tensor attention_probabilities(const Tensor& q, const Tensor& k, const AttentionMask& mask, int heads) {
  NoGradGuard no_grad;
  const int64_t b = q.size(0), tq = q.size(1), tk = k.size(1), kd = q.size(2) / heads;
  Variable qh = permute(reshape(Variable(q), {b, tq, heads, kd}), {0, 2, 1, 3});  // [B, H, Tq, K]
  Variable kh = permute(reshape(Variable(k), {b, tk, heads, kd}), {0, 2, 1, 3});  // [B, H, Tk, K]
  Variable scores = mul_scalar(matmul(qh, kh, false, true), 1.0f / std::sqrt(static_cast<float>(kd)));  // [B, H, Tq, Tk]
  return softmax(scores, mask.additive(tq, tk)).value();
}

}  // namespace bcqnmt

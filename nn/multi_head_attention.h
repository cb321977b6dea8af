#pragma once
// Multi-head attention as Keras' MultiHeadAttention(num_heads=H, key_dim=K): Q, K, V
// project D -> H*K (with bias), the fused attention op mixes values per head, and
// "attention_output" projects H*K -> D. Dropout acts on the attention probabilities.
#include <optional>

#include "core/ops.h"
#include "nn/linear.h"
#include "nn/model_config.h"

namespace bcqnmt {

// Keys and values of one attention layer, kept across decoding steps, in storage
// [B, capacity, H*K] whose first `length` positions are filled. The capacity doubles when
// it runs out, so a decoding step copies only its own position rather than the whole
// history (appending by concatenation made decoding quadratic in the output length).
struct KvCache {
  Tensor keys, values;  // [B, capacity, H*K]
  int64_t length = 0;
  bool empty() const { return length == 0; }
  void append(const Tensor& k, const Tensor& v);  // k, v [B, t, H*K]
  // Room for t more positions of B rows H*K wide, [length, length + t) (the storage grows
  // as append's does, keeping the filled positions); the caller writes them, then adds t to
  // length.
  void reserve(int64_t b, int64_t t, int64_t width);
  Tensor filled_keys() const;                      // [B, length, H*K], a copy
  // Keeps rows `rows` of the batch, in that order (repeats allowed): [B, ...] -> [rows, ...].
  // Up to B of them, in place: beam search reorders its caches every step, and a fresh
  // [B, capacity, H*K] copy each time was a quarter of its time in page faults, so only the
  // rows that change are copied, filled positions only, through a scratch buffer kept here.
  // More than B (beam search's first step fans each sentence's row out to its K hypotheses):
  // new storage, filled positions copied. Each entry must be in [0, B).
  void select_rows(const std::vector<int32_t>& rows);

 private:
  std::vector<float> scratch_;
};

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const ModelConfig& config, Rng& rng);
  // query [B, Tq, D] attends to context [B, Tk, D] -> [B, Tq, D]
  Variable forward(const Variable& query, const Variable& context, const AttentionMask& mask) const;
  // Incremental decoding (inference: no gradients, no dropout). Self-attention (grow = true)
  // appends this step's keys/values to the cache; cross-attention (grow = false) fills it
  // once from context and reuses it. query [B, Tq, D], context [C, Tk, D] with C dividing B:
  // each group of B / C consecutive query rows attends to one context row (beam search keeps
  // one copy of a sentence's source for its hypotheses); mask is per context row [C], and
  // C < B needs a non-causal mask (NnError otherwise). -> [B, Tq, D]. The recorded
  // probabilities are those of the grouped queries, [C, H, B / C * Tq, Tk].
  Variable forward_cached(const Variable& query, const Variable& context, const AttentionMask& mask, KvCache& cache,
                          bool grow) const;

  // Whether forward_cached runs a step of `rows` query rows, one position each, with each
  // group of heads' Q, K, V and attention as one task on the thread team (see the .cpp):
  // with gradients off, on the fast kernel path, no probabilities recorded, and Q, K and V
  // (K and V only when `grow`: self-attention) on packed kernels with slices of whole heads.
  bool steps_by_heads(int64_t rows, bool grow) const;

  // The recording hook for pictures (`bcqnmt plot`) and health signals
  // (nn/training_health.h): while a sink is set, every forward and forward_cached call also
  // appends its attention probabilities [B, H, Tq, Tk] (without dropout), computed
  // apart from the fused op (which never materialises them) by attention_probabilities().
  // Costs one more score computation per call; pass nullptr to stop.
  void record_probabilities(std::vector<Tensor>* sink) { probability_sink_ = sink; }

  Linear& query() { return query_; }
  Linear& key() { return key_; }
  Linear& value() { return value_; }
  Linear& output() { return output_; }

 private:
  // forward_cached for one position per row with every head's share of the work as one task
  // (see the .cpp); nullopt when it does not apply, and nothing is done.
  std::optional<Variable> step_by_heads(const Tensor& query, const Variable& context, const AttentionMask& mask,
                                        KvCache& cache, bool grow) const;
  Tensor output_by_halves(const Tensor& mixed) const;  // [N, H*K] -> [N, D]

  Linear query_, key_, value_, output_;
  int heads_;
  float dropout_rate_;
  Rng* rng_;
  std::vector<Tensor>* probability_sink_ = nullptr;
};

// softmax(q k^T / sqrt(K) + mask) per head, no gradients: the probabilities the fused
// attention op uses internally. q [B, Tq, H*K], k [B, Tk, H*K] -> [B, H, Tq, Tk]
Tensor attention_probabilities(const Tensor& q, const Tensor& k, const AttentionMask& mask, int heads);

}  // namespace bcqnmt

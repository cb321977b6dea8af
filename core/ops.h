#pragma once
// The differentiable op set. Each op's forward and backward live side by side in one file
// under core/ops/. Primitive ops are kept few; the ops a Transformer spends its time in are
// fused (softmax with mask, layer-norm, log-softmax + cross-entropy, attention) because
// speed needs it — see core/README.md.
//
// Shape letters used across the project: B batch, S source length, T target length,
// D d_model, H heads, K key_dim, F dff, V vocab, Q bits.
#include <vector>

#include "core/random.h"
#include "core/variable.h"

namespace bcqnmt {

// ---- element-wise (ops/elementwise.cpp) ------------------------------------------------
// Binary ops broadcast over leading dimensions: the shapes are equal, or one shape is a
// suffix of the other (a [B, T, D] + b [D] adds b to every row).
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add_scalar(const Variable& a, float s);
Variable mul_scalar(const Variable& a, float s);
Variable relu(const Variable& x);
Variable gelu(const Variable& x);  // exact, x * Phi(x) (Keras' default approximate=False)

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator*(const Variable& a, float s) { return mul_scalar(a, s); }
inline Variable operator+(const Variable& a, float s) { return add_scalar(a, s); }

// ---- matmul (ops/matmul.cpp) ---------------------------------------------------------
// a [..., M, K] x b [K, N] -> [..., M, N] (one GEMM over all leading rows), or batched
// a [..., M, K] x b [..., K, N] with equal leading dimensions. trans_a / trans_b read the
// last two dimensions transposed; they are passed to cblas_sgemm, never copied.
Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);

// Dense layer y = x w + b, fused: the bias is the GEMM's initial C (beta = 1) and its
// gradient a column sum. x [..., in], w [in, out], b [out] or undefined -> [..., out].
// (ops/linear.cpp)
Variable linear(const Variable& x, const Variable& w, const Variable& b);

// ---- shape (ops/shape.cpp) -------------------------------------------------------------
Variable reshape(const Variable& x, Shape shape);
Variable permute(const Variable& x, const std::vector<int>& perm);
Variable transpose(const Variable& x, int d0, int d1);
Variable slice(const Variable& x, int dim, int64_t begin, int64_t end);
Variable concat(const std::vector<Variable>& xs, int dim);

// ---- normalisation and probabilities ------------------------------------------------------
// softmax over the last dimension after adding `mask` (additive: 0 keep, -1e9 drop), whose
// shape has x's rank and either x's size or 1 in every dimension (broadcast). (ops/softmax.cpp)
Variable softmax(const Variable& x, const Tensor& mask = Tensor());
Variable log_softmax(const Variable& x);
// Layer normalisation over the last dimension, fused forward and backward. (ops/normalization.cpp)
Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps);
// Root-mean-square normalisation over the last dimension (Zhang & Sennrich 2019), fused:
// y = x / sqrt(mean(x^2) + eps) * gamma. (ops/normalization.cpp)
Variable rms_norm(const Variable& x, const Variable& gamma, float eps);

// ---- attention (ops/attention.cpp) ----------------------------------------------------
// Which keys each query may see. Sequences are right-padded, so padding is a length.
struct AttentionMask {
  std::vector<int32_t> key_lengths;  // [B]; keys at positions >= length are padding
  bool causal = false;  // query i (absolute position i + Tk - Tq) sees keys j <= its position
  // The same mask as an additive tensor [B, 1, Tq, Tk] (0 keep, -1e9 drop) for softmax().
  Tensor additive(int64_t tq, int64_t tk) const;
};
// Scaled dot-product attention over H heads, fused: scores, mask, softmax, dropout on the
// probabilities and the weighted sum of values, forward and backward, parallel over
// batch x heads. q [B, Tq, H*K], k and v [B, Tk, H*K] (heads side by side, as a Linear
// projection writes them) -> [B, Tq, H*K]. No permutes, no per-head BLAS calls.
Variable attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask, int heads,
                   float dropout_rate, Rng& rng, bool training);
// Inference only (no graph, no dropout): attention over the first tk positions of k and v
// stored as [B, capacity, H*K], as a decoding cache holds them, without copying them out.
Tensor attention_prefix(const Tensor& q, const Tensor& k, const Tensor& v, int64_t tk, const AttentionMask& mask,
                        int heads);
// attention_prefix of heads [h0, h1) only, on the calling thread: writes those heads'
// columns of out [B, Tq, H*K] and nothing else, each bit-identical to attention_prefix's.
// For a layer that runs a head's products and its attention as one task.
void attention_prefix_heads(const Tensor& q, const Tensor& k, const Tensor& v, int64_t tk, const AttentionMask& mask,
                            int heads, int64_t h0, int64_t h1, Tensor& out);
// The same computation composed of primitive ops (reshape, permute, matmul, softmax,
// dropout): the plain reference path the fused kernel is tested against.
Variable attention_reference(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                             int heads, float dropout_rate, Rng& rng, bool training);

// ---- lookup, noise, loss, reductions ----------------------------------------------------------
// Rows of table [V, D] picked by ids -> ids.shape + [D]; backward scatter-adds. (ops/embedding.cpp)
Variable embedding(const Variable& table, const IndexTensor& ids);
// Inverted dropout: keeps with probability 1 - rate and scales by 1 / (1 - rate); the mask
// is a hash of one key drawn from rng, so it does not depend on threading. (ops/dropout.cpp)
Variable dropout(const Variable& x, float rate, Rng& rng, bool training);
// Mean cross-entropy of logits [..., V] against labels (same leading shape), skipping
// labels equal to ignore_index; fused with log-softmax. (ops/cross_entropy.cpp)
Variable cross_entropy(const Variable& logits, const IndexTensor& labels, int ignore_index = 0);
// cross_entropy(linear(x, w, b), labels) without materialising the logits: row blocks,
// recomputed in backward. `hits`, if given, receives the number of counted rows whose
// argmax (first maximum) is the label. (ops/linear_cross_entropy.cpp)
Variable linear_cross_entropy(const Variable& x, const Variable& w, const Variable& b, const IndexTensor& labels,
                              int ignore_index = 0, int64_t* hits = nullptr);
// Mean KL(target || softmax(logits)) over the rows whose label is not ignore_index: the
// soft-label term of knowledge distillation. target_probs has logits' shape [..., V], each
// counted row a distribution (it gets no gradient); labels only select the rows.
// (ops/kl_divergence.cpp)
Variable kl_divergence(const Variable& logits, const Tensor& target_probs, const IndexTensor& labels,
                       int ignore_index = 0);
Variable sum(const Variable& x);  // (ops/reduce.cpp)
Variable mean(const Variable& x);

}  // namespace bcqnmt

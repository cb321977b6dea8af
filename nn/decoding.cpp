#include "nn/decoding.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/vector_math.h"
#include "nn/error.h"

namespace bcqnmt {

namespace {

// Rows of t [N, ...] picked by `rows` (an embedding lookup over the flattened rows).
Tensor select_rows(const Tensor& t, const std::vector<int32_t>& rows) {
  Shape shape = t.shape();
  const int64_t n = shape[0];
  Tensor picked = embedding(Variable(t.reshape({n, -1})), IndexTensor{{static_cast<int64_t>(rows.size())}, rows}).value();
  shape[0] = static_cast<int64_t>(rows.size());
  return picked.reshape(shape);
}

void select_cache(DecoderCache& cache, const std::vector<int32_t>& rows) {
  for (auto* caches : {&cache.self_attention, &cache.cross_attention})
    for (KvCache& c : *caches)
      if (c.keys.defined()) {
        c.keys = select_rows(c.keys, rows);
        c.values = select_rows(c.values, rows);
      }
}

// Translation needs eval mode (no dropout); restore the caller's mode afterwards.
class EvalScope {
 public:
  explicit EvalScope(const Transformer& m) : model_(const_cast<Transformer&>(m)), was_training_(m.training()) {
    model_.eval();
  }
  ~EvalScope() { model_.train(was_training_); }

 private:
  Transformer& model_;
  bool was_training_;
};

Tensor step_logits(const Transformer& model, const IndexTensor& tokens, const Variable& encoded,
                   const AttentionMask& mask, DecoderCache& cache) {
  const int64_t b = tokens.shape[0];
  Variable h = model.decoder().forward_step(tokens, encoded, mask, cache);  // [B, 1, D]
  return model.final_layer().forward(h).value().reshape({b, -1});           // [B, V]
}

// log p(row[token]) = row[token] - logsumexp(row), with the vectorised exp.
float log_probability_of(const float* row, int64_t v, int32_t token) {
  const float mx = max_of(row, v);
  return row[token] - mx - std::log(exp_shifted(row, v, mx, nullptr));
}

std::vector<ScoredTranslation> greedy(const Transformer& model, const IndexTensor& source, const DecodeOptions& o) {
  const int64_t b = source.shape[0];
  AttentionMask mask = padding_mask(source, false);
  Variable encoded = model.encoder().forward(source, mask);  // [B, S, D]
  std::vector<ScoredTranslation> out(b);
  std::vector<int32_t> active(b);  // sentence of each row still being decoded
  std::iota(active.begin(), active.end(), 0);
  IndexTensor tokens{{b, 1}, std::vector<int32_t>(b, kStartId)};
  DecoderCache cache;
  for (int step = 0; step < o.max_length && !active.empty(); ++step) {
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache);  // [rows, V]
    const int64_t v = logits.size(1);
    std::vector<int32_t> keep, next;
    for (size_t r = 0; r < active.size(); ++r) {
      const float* row = logits.data() + r * v;
      const auto best = static_cast<int32_t>(std::max_element(row, row + v) - row);
      out[active[r]].log_probability += log_probability_of(row, v, best);
      if (best == kEndId) continue;
      out[active[r]].tokens.push_back(best);
      keep.push_back(static_cast<int32_t>(r));
      next.push_back(best);
    }
    if (keep.size() != active.size()) {  // drop finished sentences from the batch
      std::vector<int32_t> still;
      AttentionMask kept_mask{{}, false};
      for (int32_t r : keep) {
        still.push_back(active[r]);
        kept_mask.key_lengths.push_back(mask.key_lengths[r]);
      }
      if (!keep.empty()) {
        encoded = Variable(select_rows(encoded.value(), keep));
        select_cache(cache, keep);
      }
      active = std::move(still);
      mask = std::move(kept_mask);
    }
    tokens = IndexTensor{{static_cast<int64_t>(next.size()), 1}, next};
  }
  for (ScoredTranslation& t : out) t.score = t.log_probability;
  return out;
}

struct Hypothesis {
  std::vector<int32_t> tokens;
  float score;  // sum of log-probabilities
};

std::vector<std::vector<ScoredTranslation>> beam_search(const Transformer& model, const IndexTensor& source,
                                                        const DecodeOptions& o) {
  const int64_t b = source.shape[0], k = o.beam_size;
  const AttentionMask source_mask = padding_mask(source, false);
  Variable encoded = model.encoder().forward(source, source_mask);  // [B, S, D]
  std::vector<int32_t> expand;                                      // row b*K + j <- sentence b
  AttentionMask mask{{}, false};
  for (int64_t n = 0; n < b; ++n)
    for (int64_t j = 0; j < k; ++j) {
      expand.push_back(static_cast<int32_t>(n));
      mask.key_lengths.push_back(source_mask.key_lengths[n]);
    }
  encoded = Variable(select_rows(encoded.value(), expand));  // [B*K, S, D]
  // Wu et al. 2016's length penalty over `length` tokens ([END] included).
  auto penalty = [&](size_t length) { return std::pow((5.0f + static_cast<float>(length)) / 6.0f, o.length_alpha); };
  // Only the first beam of each sentence is live at the start, so the K beams differ.
  std::vector<Hypothesis> live(b * k, Hypothesis{{}, -INFINITY});
  for (int64_t n = 0; n < b; ++n) live[n * k].score = 0.0f;
  std::vector<std::vector<ScoredTranslation>> finished(b);
  std::vector<bool> done(b, false);
  IndexTensor tokens{{b * k, 1}, std::vector<int32_t>(b * k, kStartId)};
  DecoderCache cache;
  std::vector<std::pair<float, int64_t>> candidates;  // (score, beam * V + token)
  for (int step = 0; step < o.max_length; ++step) {
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache);  // [B*K, V]
    const int64_t v = logits.size(1);
    std::vector<float> log_normalizer(b * k);  // logsumexp of each row, vectorised exp
    for (int64_t r = 0; r < b * k; ++r) {
      const float* row = logits.data() + r * v;
      const float mx = max_of(row, v);
      log_normalizer[r] = mx + std::log(exp_shifted(row, v, mx, nullptr));
    }
    std::vector<int32_t> parents(b * k);
    std::vector<Hypothesis> next_live(b * k, Hypothesis{{}, -INFINITY});
    for (int64_t n = 0; n < b; ++n) {
      for (int64_t j = 0; j < k; ++j) parents[n * k + j] = static_cast<int32_t>(n * k);
      if (done[n]) continue;
      candidates.clear();
      for (int64_t j = 0; j < k; ++j) {
        const float base = live[n * k + j].score;
        if (base == -INFINITY) continue;
        const float* row = logits.data() + (n * k + j) * v;
        const float offset = base - log_normalizer[n * k + j];
        for (int64_t t = 0; t < v; ++t) candidates.emplace_back(offset + row[t], j * v + t);
      }
      const int64_t top = std::min<int64_t>(2 * k, static_cast<int64_t>(candidates.size()));
      std::partial_sort(candidates.begin(), candidates.begin() + top, candidates.end(),
                        [](const auto& x, const auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
      int64_t filled = 0;
      for (int64_t c = 0; c < top && filled < k; ++c) {
        const int64_t beam = candidates[c].second / v;
        const auto token = static_cast<int32_t>(candidates[c].second % v);
        const std::vector<int32_t>& history = live[n * k + beam].tokens;
        if (token == kEndId) {
          const float log_p = candidates[c].first;
          finished[n].push_back({history, log_p, log_p / penalty(history.size() + 1)});
          continue;
        }
        Hypothesis h{history, candidates[c].first};
        h.tokens.push_back(token);
        parents[n * k + filled] = static_cast<int32_t>(n * k + beam);
        next_live[n * k + filled] = std::move(h);
        ++filled;
      }
      // Done once K hypotheses have finished and the best live one, ranked at its current
      // length, does not beat the best finished one (CTranslate2's and fairseq's rule; a
      // bound over every future length would wait for max_length's penalty).
      if (static_cast<int64_t>(finished[n].size()) >= k) {
        float best_done = -INFINITY;
        for (const auto& t : finished[n]) best_done = std::max(best_done, t.score);
        const Hypothesis& best_live = next_live[n * k];
        done[n] = best_live.score == -INFINITY || best_done >= best_live.score / penalty(best_live.tokens.size() + 1);
      }
    }
    live = std::move(next_live);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    select_cache(cache, parents);
    std::vector<int32_t> next(b * k);
    for (int64_t r = 0; r < b * k; ++r) next[r] = live[r].tokens.empty() ? kEndId : live[r].tokens.back();
    tokens = IndexTensor{{b * k, 1}, next};
  }
  for (int64_t n = 0; n < b; ++n) {
    if (static_cast<int64_t>(finished[n].size()) < o.n_best)  // max_length cut them: the live ones count too
      for (int64_t j = 0; j < k; ++j) {
        const Hypothesis& h = live[n * k + j];
        if (h.score > -INFINITY) finished[n].push_back({h.tokens, h.score, h.score / penalty(h.tokens.size())});
      }
    std::stable_sort(finished[n].begin(), finished[n].end(),
                     [](const auto& x, const auto& y) { return x.score > y.score; });
    if (static_cast<int64_t>(finished[n].size()) > o.n_best) finished[n].resize(o.n_best);
  }
  return finished;
}

}  // namespace

std::vector<std::vector<ScoredTranslation>> decode_n_best(const Transformer& model, const IndexTensor& source,
                                                          const DecodeOptions& options) {
  if (source.shape.size() != 2) throw NnError("translate: source must be [B, S], got " + shape_str(source.shape));
  if (options.beam_size < 1) throw NnError("translate: beam size must be >= 1");
  if (options.n_best < 1 || options.n_best > options.beam_size)
    throw NnError("translate: n-best " + std::to_string(options.n_best) + " needs a beam of at least that size, not " +
                  std::to_string(options.beam_size));
  NoGradGuard no_grad;
  EvalScope eval(model);
  if (options.beam_size > 1) return beam_search(model, source, options);
  std::vector<std::vector<ScoredTranslation>> out;
  for (ScoredTranslation& t : greedy(model, source, options)) out.push_back({std::move(t)});
  return out;
}

std::vector<std::vector<int32_t>> translate_batch(const Transformer& model, const IndexTensor& source,
                                                  const DecodeOptions& options) {
  DecodeOptions one_best = options;
  one_best.n_best = 1;
  std::vector<std::vector<int32_t>> out;
  for (auto& hypotheses : decode_n_best(model, source, one_best))
    out.push_back(hypotheses.empty() ? std::vector<int32_t>{} : std::move(hypotheses.front().tokens));
  return out;
}

std::vector<std::vector<float>> greedy_logits_uncached(const Transformer& model, const IndexTensor& source, int steps) {
  NoGradGuard no_grad;
  EvalScope eval(model);
  const int64_t b = source.shape[0];
  std::vector<std::vector<int32_t>> prefix(b, std::vector<int32_t>{kStartId});
  std::vector<std::vector<float>> out;
  for (int step = 0; step < steps; ++step) {
    IndexTensor target{{b, step + 1}, {}};
    for (const auto& p : prefix) target.data.insert(target.data.end(), p.begin(), p.end());
    const Tensor logits = model.forward(source, target).value();  // [B, T, V]
    const int64_t v = logits.size(-1);
    std::vector<float> last;
    for (int64_t n = 0; n < b; ++n) {
      const float* row = logits.data() + (n * (step + 1) + step) * v;
      last.insert(last.end(), row, row + v);
      prefix[n].push_back(static_cast<int32_t>(std::max_element(row, row + v) - row));
    }
    out.push_back(std::move(last));
  }
  return out;
}

std::vector<std::vector<float>> greedy_logits_cached(const Transformer& model, const IndexTensor& source, int steps) {
  NoGradGuard no_grad;
  EvalScope eval(model);
  const int64_t b = source.shape[0];
  const AttentionMask mask = padding_mask(source, false);
  const Variable encoded = model.encoder().forward(source, mask);
  IndexTensor tokens{{b, 1}, std::vector<int32_t>(b, kStartId)};
  DecoderCache cache;
  std::vector<std::vector<float>> out;
  for (int step = 0; step < steps; ++step) {
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache);  // [B, V]
    const int64_t v = logits.size(1);
    for (int64_t n = 0; n < b; ++n) {
      const float* row = logits.data() + n * v;
      tokens.data[n] = static_cast<int32_t>(std::max_element(row, row + v) - row);
    }
    out.push_back(logits.to_vector());
  }
  return out;
}

}  // namespace bcqnmt

#include "nn/decoding.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

std::vector<std::vector<int32_t>> greedy(const Transformer& model, const IndexTensor& source, const DecodeOptions& o) {
  const int64_t b = source.shape[0];
  AttentionMask mask = padding_mask(source, false);
  Variable encoded = model.encoder().forward(source, mask);  // [B, S, D]
  std::vector<std::vector<int32_t>> out(b);
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
      if (best == kEndId) continue;
      out[active[r]].push_back(best);
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
  return out;
}

struct Hypothesis {
  std::vector<int32_t> tokens;
  float score;  // sum of log-probabilities
};

std::vector<std::vector<int32_t>> beam_search(const Transformer& model, const IndexTensor& source,
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
  auto normalized = [&](const Hypothesis& h) {
    return h.score / std::pow((5.0f + static_cast<float>(h.tokens.size() + 1)) / 6.0f, o.length_alpha);
  };
  // Only the first beam of each sentence is live at the start, so the K beams differ.
  std::vector<Hypothesis> live(b * k, Hypothesis{{}, -INFINITY});
  for (int64_t n = 0; n < b; ++n) live[n * k].score = 0.0f;
  std::vector<std::vector<Hypothesis>> finished(b);
  std::vector<bool> done(b, false);
  IndexTensor tokens{{b * k, 1}, std::vector<int32_t>(b * k, kStartId)};
  DecoderCache cache;
  for (int step = 0; step < o.max_length; ++step) {
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache);  // [B*K, V]
    const int64_t v = logits.size(1);
    std::vector<float> logp(logits.numel());
    for (int64_t r = 0; r < b * k; ++r) {
      const float* row = logits.data() + r * v;
      const float mx = *std::max_element(row, row + v);
      float total = 0.0f;
      for (int64_t j = 0; j < v; ++j) total += std::exp(row[j] - mx);
      const float lse = mx + std::log(total);
      for (int64_t j = 0; j < v; ++j) logp[r * v + j] = row[j] - lse;
    }
    std::vector<int32_t> parents(b * k);
    std::vector<Hypothesis> next_live(b * k, Hypothesis{{}, -INFINITY});
    for (int64_t n = 0; n < b; ++n) {
      for (int64_t j = 0; j < k; ++j) parents[n * k + j] = static_cast<int32_t>(n * k);
      if (done[n]) continue;
      std::vector<std::pair<float, int64_t>> candidates;  // (score, beam * V + token)
      candidates.reserve(k * v);
      for (int64_t j = 0; j < k; ++j) {
        const float base = live[n * k + j].score;
        if (base == -INFINITY) continue;
        for (int64_t t = 0; t < v; ++t) candidates.emplace_back(base + logp[(n * k + j) * v + t], j * v + t);
      }
      const int64_t top = std::min<int64_t>(2 * k, static_cast<int64_t>(candidates.size()));
      std::partial_sort(candidates.begin(), candidates.begin() + top, candidates.end(),
                        [](const auto& x, const auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
      int64_t filled = 0;
      for (int64_t c = 0; c < top && filled < k; ++c) {
        const int64_t beam = candidates[c].second / v;
        const auto token = static_cast<int32_t>(candidates[c].second % v);
        Hypothesis h{live[n * k + beam].tokens, candidates[c].first};
        if (token == kEndId) {
          finished[n].push_back(std::move(h));
          continue;
        }
        h.tokens.push_back(token);
        parents[n * k + filled] = static_cast<int32_t>(n * k + beam);
        next_live[n * k + filled] = std::move(h);
        ++filled;
      }
      // Done when K hypotheses have ended and no live one can still beat the best of them
      // (scores only fall as tokens are added; the length bonus is bounded at max_length).
      if (static_cast<int64_t>(finished[n].size()) >= k) {
        float best_done = -INFINITY;
        for (const auto& h : finished[n]) best_done = std::max(best_done, normalized(h));
        const float best_live = next_live[n * k].score /
                                std::pow((5.0f + static_cast<float>(o.max_length)) / 6.0f, o.length_alpha);
        done[n] = best_done >= best_live;
      }
    }
    live = std::move(next_live);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    select_cache(cache, parents);
    std::vector<int32_t> next(b * k);
    for (int64_t r = 0; r < b * k; ++r) next[r] = live[r].tokens.empty() ? kEndId : live[r].tokens.back();
    tokens = IndexTensor{{b * k, 1}, next};
  }
  std::vector<std::vector<int32_t>> out(b);
  for (int64_t n = 0; n < b; ++n) {
    if (finished[n].empty())  // ran into max_length: take the live hypotheses
      for (int64_t j = 0; j < k; ++j)
        if (live[n * k + j].score > -INFINITY) finished[n].push_back(live[n * k + j]);
    const auto best = std::max_element(finished[n].begin(), finished[n].end(),
                                       [&](const auto& x, const auto& y) { return normalized(x) < normalized(y); });
    if (best != finished[n].end()) out[n] = best->tokens;
  }
  return out;
}

}  // namespace

std::vector<std::vector<int32_t>> translate_batch(const Transformer& model, const IndexTensor& source,
                                                  const DecodeOptions& options) {
  if (source.shape.size() != 2) throw NnError("translate: source must be [B, S], got " + shape_str(source.shape));
  if (options.beam_size < 1) throw NnError("translate: beam size must be >= 1");
  NoGradGuard no_grad;
  EvalScope eval(model);
  return options.beam_size == 1 ? greedy(model, source, options) : beam_search(model, source, options);
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

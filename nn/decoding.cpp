#include "nn/decoding.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "core/vector_math.h"
#include "nn/error.h"

namespace bcqnmt {

namespace {

void select_cache(std::vector<KvCache>& caches, const std::vector<int32_t>& rows) {
  for (KvCache& c : caches) c.select_rows(rows);
}

// Where the kept blocks of rows go when finished ones leave the batch. kept: the positions of
// the kept blocks, ascending -> the old position of each new block. A kept block that fits
// in the shorter batch stays where it is and the ones beyond it fill the holes, so the caches
// copy at most one block per finished one: keeping the order shifted every block after the
// first hole, on average half the batch's caches at each step where a sentence finished.
std::vector<int32_t> compacted_order(const std::vector<int32_t>& kept) {
  const auto m = static_cast<int32_t>(kept.size());
  std::vector<int32_t> order(m, -1), beyond;
  for (int32_t a : kept) {
    if (a < m)
      order[a] = a;
    else
      beyond.push_back(a);
  }
  auto next = beyond.begin();
  for (int32_t& o : order)
    if (o < 0) o = *next++;
  return order;
}

// output_limit of each source row of `mask` (its key length less [START] and [END]).
std::vector<int> output_limits(const AttentionMask& mask, const DecodeOptions& o) {
  std::vector<int> limits;
  for (int32_t length : mask.key_lengths) limits.push_back(output_limit(o, std::max(length - 2, 0)));
  return limits;
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

// One decoding step, on the thread team or on this thread alone, whichever `threads` found
// faster (core/thread_choice.h; the logits are the same either way). The first step of a
// decode fills the cross-attention caches and is not timed.
Tensor step_logits(const Transformer& model, const IndexTensor& tokens, const Variable& encoded,
                   const AttentionMask& mask, DecoderCache& cache, ThreadChoice& threads) {
  const int64_t b = tokens.shape[0];
  Tensor logits;
  threads.run(
      [&] {
        Variable h = model.decoder().forward_step(tokens, encoded, mask, cache);  // [B, 1, D]
        logits = model.final_layer().forward(h).value().reshape({b, -1});         // [B, V]
      },
      /*timed=*/cache.length > 0);
  return logits;
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
  const std::vector<int> limit = output_limits(mask, o);  // per sentence
  IndexTensor tokens{{b, 1}, std::vector<int32_t>(b, kStartId)};
  DecoderCache cache;
  ThreadChoice own_threads;
  ThreadChoice& threads = o.thread_choice ? *o.thread_choice : own_threads;
  for (int step = 0; step <= o.max_length && !active.empty(); ++step) {
    if (o.before_step) o.before_step();
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache, threads);  // [rows, V]
    encoded = Variable();  // the cross-attention caches hold all the decoder reads of it
    const int64_t v = logits.size(1);
    std::vector<int32_t> keep, chosen(active.size());
    for (size_t r = 0; r < active.size(); ++r) {
      const float* row = logits.data() + r * v;
      std::vector<int32_t>& output = out[active[r]].tokens;
      const bool at_limit = static_cast<int>(output.size()) == limit[active[r]];  // only [END] may follow
      const auto best = at_limit ? kEndId : static_cast<int32_t>(std::max_element(row, row + v) - row);
      out[active[r]].log_probability += log_probability_of(row, v, best);
      if (best == kEndId) continue;
      output.push_back(best);
      keep.push_back(static_cast<int32_t>(r));
      chosen[r] = best;
    }
    if (keep.size() != active.size()) {  // drop finished sentences from the batch
      keep = compacted_order(keep);
      std::vector<int32_t> still;
      AttentionMask kept_mask{{}, false};
      for (int32_t r : keep) {
        still.push_back(active[r]);
        kept_mask.key_lengths.push_back(mask.key_lengths[r]);
      }
      if (!keep.empty()) {
        select_cache(cache.self_attention, keep);
        select_cache(cache.cross_attention, keep);
      }
      active = std::move(still);
      mask = std::move(kept_mask);
    }
    std::vector<int32_t> next;
    for (int32_t r : keep) next.push_back(chosen[r]);
    tokens = IndexTensor{{static_cast<int64_t>(next.size()), 1}, next};
  }
  for (ScoredTranslation& t : out) t.score = t.log_probability;
  return out;
}

// ---- Beam search ------------------------------------------------------------------------
// Each sentence keeps K rows in the batch, except at the first step: its one hypothesis (the
// empty one) has one row, which the caches then fan out to K (K identical rows were 1 / K of
// the first step's work each; 4% of all rows at K = 4). A sentence whose search is over leaves
// the batch (its encoder states, mask and caches are dropped), as finished sentences leave
// greedy's.

struct Hypothesis {
  std::vector<int32_t> tokens;
  float log_probability;
};

struct SentenceBeam {
  int limit;                     // output_limit: a live hypothesis of this many tokens gets [END] next
  std::vector<Hypothesis> live;  // at most K, highest log-probability first, all of one length
  std::vector<int32_t> rows;     // the row (of the sentence's rows in the batch) of each live one
  std::vector<ScoredTranslation> finished;
};

// A continuation: log p(beam's prefix + token), index = beam * V + token.
struct Candidate {
  float log_probability;
  int64_t index;
};

// Ranked by log-probability, ties to the lower beam * V + token.
bool ranks_above(const Candidate& x, const Candidate& y) {
  return x.log_probability > y.log_probability || (x.log_probability == y.log_probability && x.index < y.index);
}

// Wu et al. 2016 eq. 14: lp(n) = ((5 + n) / 6)^alpha over n tokens ([END] included).
float length_penalty(size_t length, float alpha) {
  return std::pow((5.0f + static_cast<float>(length)) / 6.0f, alpha);
}

// A hypothesis ended by [END]: its score is log p over the tokens and [END], divided by the
// length penalty over both.
ScoredTranslation ended(const std::vector<int32_t>& tokens, float log_probability, float alpha) {
  return {tokens, log_probability, log_probability / length_penalty(tokens.size() + 1, alpha)};
}

// Expand: the best `count` continuations of the sentence's live hypotheses, best first.
// logits holds the sentence's rows [K or 1, V] (live hypothesis j in row s.rows[j]); the
// log-softmax uses the vectorised exp. Only a row's own best `count` tokens can be among the
// sentence's best `count`, so each row is scanned once into a short sorted list instead of
// sorting all K * V continuations. Once the list is full, first_above skips the logits
// that cannot enter it, 16 at a time; its threshold sits a little below the list's last
// entry (less the row's offset) so that rounding never skips one that can, and ranks_above
// decides exactly.
std::vector<Candidate> expand(const SentenceBeam& s, const float* logits, int64_t v, int64_t count) {
  std::vector<Candidate> best;
  for (size_t j = 0; j < s.live.size(); ++j) {
    const float* row = logits + static_cast<int64_t>(s.rows[j]) * v;
    const float mx = max_of(row, v);
    const float offset = s.live[j].log_probability - (mx + std::log(exp_shifted(row, v, mx, nullptr)));
    std::vector<Candidate> top;  // this row's best, sorted
    for (int64_t t = 0; t < v; ++t) {
      if (static_cast<int64_t>(top.size()) == count) {
        const float entry = top.back().log_probability - offset;
        t = first_above(row, t, v, entry - 1e-3f * (1.0f + std::abs(entry)));
        if (t == v) break;
      }
      const Candidate c{offset + row[t], static_cast<int64_t>(j) * v + t};
      if (static_cast<int64_t>(top.size()) == count && !ranks_above(c, top.back())) continue;
      top.insert(std::upper_bound(top.begin(), top.end(), c, ranks_above), c);
      if (static_cast<int64_t>(top.size()) > count) top.pop_back();
    }
    best.insert(best.end(), top.begin(), top.end());
  }
  const int64_t keep = std::min<int64_t>(count, static_cast<int64_t>(best.size()));
  std::partial_sort(best.begin(), best.begin() + keep, best.end(), ranks_above);
  best.resize(keep);
  return best;
}

// Select: walking the candidates best first, [END] finishes a hypothesis (scored with the
// length penalty), any other token extends one, until K are live. Returns each new live
// hypothesis's parent beam.
std::vector<int32_t> select(SentenceBeam& s, const std::vector<Candidate>& candidates, int64_t v, int64_t k,
                            float alpha) {
  std::vector<Hypothesis> live;
  std::vector<int32_t> parents;
  for (const Candidate& c : candidates) {
    if (static_cast<int64_t>(live.size()) == k) break;
    const auto beam = static_cast<int32_t>(c.index / v);
    const auto token = static_cast<int32_t>(c.index % v);
    const std::vector<int32_t>& history = s.live[beam].tokens;
    if (token == kEndId) {
      s.finished.push_back(ended(history, c.log_probability, alpha));
      continue;
    }
    live.push_back({history, c.log_probability});
    live.back().tokens.push_back(token);
    parents.push_back(beam);
  }
  s.live = std::move(live);
  return parents;
}

// At the limit: every live hypothesis ends with [END], whatever its probability (fairseq's rule
// at its max length), so it is ranked against the finished ones on the same terms.
// logits: the sentence's rows [K or 1, V].
void finish_at_limit(SentenceBeam& s, const float* logits, int64_t v, float alpha) {
  for (size_t j = 0; j < s.live.size(); ++j) {
    const float* row = logits + static_cast<int64_t>(s.rows[j]) * v;
    const float log_probability = s.live[j].log_probability + log_probability_of(row, v, kEndId);
    s.finished.push_back(ended(s.live[j].tokens, log_probability, alpha));
  }
  s.live.clear();
}

// Places the new live hypotheses, the children of live beams `from`, in the sentence's K
// rows: each in its parent's row unless a better sibling took it, so the self-attention
// caches move only for the others (copying every row each step cost a quarter of the time).
// The sentence had `width` rows this step (1 at the first, then K). Returns the row each new
// row's cache comes from; an idle row keeps its own, or takes row 0's after the first step
// (the only row then): it is fed [END] and its outputs are never read. Sets s.rows.
std::vector<int32_t> place(SentenceBeam& s, const std::vector<int32_t>& from, int64_t k, int64_t width) {
  std::vector<int32_t> source(k), rows(from.size(), -1);
  for (int64_t j = 0; j < k; ++j) source[j] = static_cast<int32_t>(j < width ? j : 0);
  std::vector<bool> taken(k, false);
  for (size_t i = 0; i < from.size(); ++i)
    if (const int32_t parent = s.rows[from[i]]; !taken[parent]) {
      rows[i] = parent;
      taken[parent] = true;
    }
  int32_t free_row = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    if (rows[i] >= 0) continue;
    while (taken[free_row]) ++free_row;
    rows[i] = free_row;
    taken[free_row] = true;
  }
  for (size_t i = 0; i < from.size(); ++i) source[rows[i]] = s.rows[from[i]];
  s.rows = std::move(rows);
  return source;
}

// Finish: the search of a sentence is over when no hypothesis is live (all have ended, at the
// latest at the limit), or once K hypotheses have finished and no live one can still beat
// the n_best-th best of them (fairseq's and CTranslate2's rule, made exact for the whole
// n-best list; only then when stop_early). A live hypothesis of log-probability L <= 0 can
// only lose probability, and it ends with at most `limit` tokens and [END], so its best
// reachable score is L / lp(limit + 1) for alpha >= 0: the penalty grows with length and
// divides a negative number. The bound is attained only if every further token has
// probability 1; live[0] has the highest L.
bool search_over(const SentenceBeam& s, int64_t k, const DecodeOptions& o, bool stop_early) {
  if (s.live.empty()) return true;
  if (!stop_early || static_cast<int64_t>(s.finished.size()) < k) return false;
  std::vector<float> scores;
  for (const ScoredTranslation& t : s.finished) scores.push_back(t.score);
  std::nth_element(scores.begin(), scores.begin() + (o.n_best - 1), scores.end(), std::greater<>());
  const float nth_best_done = scores[static_cast<size_t>(o.n_best - 1)];
  const float best_reachable =
      s.live.front().log_probability / length_penalty(static_cast<size_t>(s.limit) + 1, o.length_alpha);
  return nth_best_done >= best_reachable;
}

// The n_best best of the finished hypotheses (every hypothesis finishes, at the latest at its
// limit), best first.
std::vector<ScoredTranslation> best_of(SentenceBeam& s, const DecodeOptions& o) {
  std::vector<ScoredTranslation> out = std::move(s.finished);
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.score > y.score; });
  if (static_cast<int64_t>(out.size()) > o.n_best) out.resize(o.n_best);
  return out;
}

// The sentences still searching: K rows each in the decoder's batch (1 at the first step),
// sentence-major, and one row each of the encoder states, the source mask and the
// cross-attention caches (the K hypotheses of a sentence share them,
// MultiHeadAttention::forward_cached).
struct BeamBatch {
  Variable encoded;  // [sentences, S, D], released once the first step has filled the cross-attention caches
  AttentionMask mask;
  DecoderCache cache;
  std::vector<int32_t> sentences;  // the sentence of each block of K rows
};

// Keeps the sentences at positions `order` (of batch.sentences, see compacted_order): their
// source masks and cross-attention caches. The self-attention caches follow the caller's
// parent rows.
void drop_finished_sentences(BeamBatch& batch, const std::vector<int32_t>& order) {
  std::vector<int32_t> sentences;
  AttentionMask mask{{}, false};
  for (int32_t a : order) {
    sentences.push_back(batch.sentences[a]);
    mask.key_lengths.push_back(batch.mask.key_lengths[a]);
  }
  if (!order.empty()) select_cache(batch.cache.cross_attention, order);
  batch.mask = std::move(mask);
  batch.sentences = std::move(sentences);
}

// stop_early false: the exhaustive reference, every sentence to its output limit.
std::vector<std::vector<ScoredTranslation>> beam_search(const Transformer& model, const IndexTensor& source,
                                                        const DecodeOptions& o, bool stop_early) {
  const int64_t b = source.shape[0], k = o.beam_size;
  const AttentionMask source_mask = padding_mask(source, false);
  BeamBatch batch{model.encoder().forward(source, source_mask), source_mask, {}, {}};  // [B, S, D]
  for (int64_t n = 0; n < b; ++n) batch.sentences.push_back(static_cast<int32_t>(n));
  std::vector<SentenceBeam> beams;
  for (int limit : output_limits(source_mask, o)) beams.push_back(SentenceBeam{limit, {Hypothesis{{}, 0.0f}}, {0}, {}});
  IndexTensor tokens{{b, 1}, std::vector<int32_t>(b, kStartId)};
  int64_t width = 1;  // rows per sentence in this step's batch: 1 at the first step, then K
  ThreadChoice own_threads;
  ThreadChoice& threads = o.thread_choice ? *o.thread_choice : own_threads;
  for (int step = 0; step <= o.max_length && !batch.sentences.empty(); ++step) {
    if (o.before_step) o.before_step();
    const Tensor logits = step_logits(model, tokens, batch.encoded, batch.mask, batch.cache, threads);  // [rows, V]
    batch.encoded = Variable();  // the cross-attention caches hold all the decoder reads of it
    const int64_t v = logits.size(1);
    std::vector<int32_t> kept;                               // positions of the sentences still searching
    std::vector<std::vector<int32_t>> sources(batch.sentences.size()), inputs(batch.sentences.size());
    for (size_t a = 0; a < batch.sentences.size(); ++a) {
      SentenceBeam& s = beams[batch.sentences[a]];
      const float* rows = logits.data() + static_cast<int64_t>(a) * width * v;  // the sentence's rows
      if (static_cast<int>(s.live.front().tokens.size()) == s.limit)
        finish_at_limit(s, rows, v, o.length_alpha);
      else
        sources[a] = place(s, select(s, expand(s, rows, v, 2 * k), v, k, o.length_alpha), k, width);
      if (search_over(s, k, o, stop_early)) continue;
      kept.push_back(static_cast<int32_t>(a));
      inputs[a].assign(k, kEndId);  // idle rows are fed [END]
      for (size_t i = 0; i < s.live.size(); ++i) inputs[a][s.rows[i]] = s.live[i].tokens.back();
    }
    const std::vector<int32_t> order = compacted_order(kept);
    if (kept.size() != batch.sentences.size()) drop_finished_sentences(batch, order);
    if (batch.sentences.empty()) break;
    std::vector<int32_t> parents, next;  // per new row: the row its cache comes from, its input token
    for (int32_t a : order)
      for (int64_t j = 0; j < k; ++j) {
        parents.push_back(static_cast<int32_t>(a * width + sources[a][j]));
        next.push_back(inputs[a][j]);
      }
    // The cross-attention caches hold one row per sentence, so only the self-attention ones
    // follow the hypotheses (after the first step, fanning each sentence's row out to K).
    select_cache(batch.cache.self_attention, parents);
    width = k;
    tokens = IndexTensor{{static_cast<int64_t>(next.size()), 1}, next};
  }
  std::vector<std::vector<ScoredTranslation>> out;
  for (SentenceBeam& s : beams) out.push_back(best_of(s, o));
  return out;
}

}  // namespace

namespace {

void check_decode_arguments(const IndexTensor& source, const DecodeOptions& options) {
  if (source.shape.size() != 2) throw NnError("translate: source must be [B, S], got " + shape_str(source.shape));
  if (options.beam_size < 1) throw NnError("translate: beam size must be >= 1");
  if (!(options.max_length_factor >= 0.0))
    throw NnError("translate: max length factor must be >= 0 (0: max_length only)");
  if (options.n_best < 1 || options.n_best > options.beam_size)
    throw NnError("translate: n-best " + std::to_string(options.n_best) + " needs a beam of at least that size, not " +
                  std::to_string(options.beam_size));
}

}  // namespace

int output_limit(const DecodeOptions& options, int64_t source_wordpieces) {
  if (options.max_length_factor <= 0.0) return options.max_length;
  const double relative = std::ceil(options.max_length_factor * static_cast<double>(source_wordpieces) - 1e-9);
  return static_cast<int>(std::clamp<double>(relative, 1.0, options.max_length));
}

std::vector<std::vector<ScoredTranslation>> decode_n_best(const Transformer& model, const IndexTensor& source,
                                                          const DecodeOptions& options) {
  check_decode_arguments(source, options);
  NoGradGuard no_grad;
  EvalScope eval(model);
  if (options.beam_size > 1) return beam_search(model, source, options, /*stop_early=*/true);
  std::vector<std::vector<ScoredTranslation>> out;
  for (ScoredTranslation& t : greedy(model, source, options)) out.push_back({std::move(t)});
  return out;
}

std::vector<std::vector<ScoredTranslation>> beam_search_exhaustive(const Transformer& model, const IndexTensor& source,
                                                                   const DecodeOptions& options) {
  check_decode_arguments(source, options);
  NoGradGuard no_grad;
  EvalScope eval(model);
  return beam_search(model, source, options, /*stop_early=*/false);
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
  ThreadChoice threads;
  std::vector<std::vector<float>> out;
  for (int step = 0; step < steps; ++step) {
    const Tensor logits = step_logits(model, tokens, encoded, mask, cache, threads);  // [B, V]
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

#pragma once
// Translation by incremental decoding with key/value caches: the encoder runs once, each
// step feeds one token per hypothesis and computes logits for that position only.
// Greedy and beam search, both batched over sentences.
#include <functional>
#include <vector>

#include "core/thread_choice.h"
#include "core/token_ids.h"
#include "nn/transformer.h"

namespace bcqnmt {

struct DecodeOptions {
  int max_length = 128;       // output tokens, [END] excluded: the cap for every sentence
  // and ceil(max_length_factor x source wordpieces) for each sentence (Marian's
  // --max-length-factor, whose default this is); 0 = max_length only. See output_limit.
  double max_length_factor = 3.0;
  int beam_size = 1;          // 1 = greedy
  float length_alpha = 0.6f;  // beam: score / ((5 + len) / 6)^alpha (Wu et al. 2016)
  int n_best = 1;             // hypotheses decode_n_best returns per sentence, <= beam_size
  // Called before each decoding step when set; it may throw to abandon the decoding (apps/
  // throws there on SIGINT/SIGTERM, apps/interrupt.h). The model's mode is restored.
  std::function<void()> before_step;
  // Times the steps on the thread team against the calling thread alone and runs them the
  // faster way (core/thread_choice.h), across calls when set (apps/ Translator keeps one);
  // null: each call times its own. The results are the same either way.
  ThreadChoice* thread_choice = nullptr;
};

// The most output tokens ([END] excluded) for a source of `source_wordpieces` wordpieces
// ([START] and [END] not counted): min(max_length, ceil(max_length_factor x
// source_wordpieces)), at least 1 (the product is taken to within 1e-9, so 0.1 x 10 is 1).
// A hypothesis that reaches it is given [END] next, whatever its probability (fairseq's rule
// at its max length), so it is scored like any other finished one. Besides ending runaway
// repetitions early, the per-sentence limit tightens beam search's stop bound.
int output_limit(const DecodeOptions& options, int64_t source_wordpieces);

// One output of the decoder. log_probability sums log p over the tokens and the closing
// [END] (forced at the output limit); score is what hypotheses are ranked by:
// log_probability itself for greedy, divided by the length penalty ((5 + n) / 6)^alpha
// over the n tokens + [END] for beam search (Wu et al. 2016, eq. 14).
struct ScoredTranslation {
  std::vector<int32_t> tokens;  // without [START] and [END]
  float log_probability = 0.0f;
  float score = 0.0f;
};

// source [B, S] with [START]/[END], right-padded -> per sentence the output ids, without
// [START] and stopping before [END].
std::vector<std::vector<int32_t>> translate_batch(const Transformer& model, const IndexTensor& source,
                                                  const DecodeOptions& options);
// The same search, keeping up to options.n_best hypotheses per sentence, best first, with
// their scores. A sentence's output limit (output_limit) counts the non-pad tokens of its
// source row less [START] and [END]. Beam search stops a sentence, as CTranslate2 and fairseq
// do, once beam_size hypotheses have finished and no live one can still beat the n_best-th
// best of them: a live hypothesis of log-probability L reaches at most L / lp(limit + 1)
// (length_alpha >= 0), so the stop changes no result (see beam_search_exhaustive). A stopped sentence
// leaves the batch. NnError if n_best is not in 1..beam_size or max_length_factor < 0.
std::vector<std::vector<ScoredTranslation>> decode_n_best(const Transformer& model, const IndexTensor& source,
                                                          const DecodeOptions& options);
// Beam search without the early stop (every sentence runs to its output limit): the plain
// reference decode_n_best's stop rule is tested against. Same errors.
std::vector<std::vector<ScoredTranslation>> beam_search_exhaustive(const Transformer& model, const IndexTensor& source,
                                                                   const DecodeOptions& options);

// Logits of every step of a greedy decode, recomputing the whole decoder each step (no
// cache): the plain reference the cached path is tested against. [steps][B * V]
std::vector<std::vector<float>> greedy_logits_uncached(const Transformer& model, const IndexTensor& source, int steps);
std::vector<std::vector<float>> greedy_logits_cached(const Transformer& model, const IndexTensor& source, int steps);

}  // namespace bcqnmt

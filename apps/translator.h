#pragma once
// Text in, text out: normalise and encode Portuguese with the source vocabulary, decode
// with the model (batched, cached), detokenize English in the corpus's conventions.
#include <string>
#include <vector>

#include "data/vocabulary.h"
#include "nn/decoding.h"

namespace bcqnmt {

// Encoded sentences grouped for batched decoding: sorted by length (less padding),
// batch_size at a time, each batch right-padded into source [n, width].
struct SourceBatch {
  IndexTensor source;              // [n, width]
  std::vector<size_t> sentences;   // index of each row in the input
};
std::vector<SourceBatch> batch_by_length(const std::vector<std::vector<int32_t>>& encoded, int batch_size);

// One translation with the decoder's score (nn/decoding.h ScoredTranslation::score).
struct ScoredText {
  std::string text;
  float score = 0.0f;
};


class Translator {
 public:
  Translator(const Transformer& model, const Vocabulary& source, const Vocabulary& target, int max_tokens);
  // Sentences are decoded in length-sorted batches (less padding) of batch_size sentences
  // (0: batch_sentences(options.beam_size)), answers in input order.
  std::vector<std::string> translate(const std::vector<std::string>& sentences, const DecodeOptions& options,
                                     int batch_size = 0) const;
  // Up to options.n_best translations per sentence, best first, with their scores; none for
  // a blank sentence.
  std::vector<std::vector<ScoredText>> translate_n_best(const std::vector<std::string>& sentences,
                                                        const DecodeOptions& options, int batch_size = 0) const;
  // Sentences per decoding batch by default: kDenseBatchRows hypotheses (decoder rows) for a
  // model on dense weights, kPackedBatchRows on packed BCQ weights, divided among the beams,
  // at least one sentence. Why they differ: a step reads every weight once, whatever its
  // rows. Dense fp32 weights are many megabytes a step, shared by more rows the larger the
  // batch; packed ones are a tenth of that, and a larger batch then mostly adds what a step
  // touches besides (each row's caches, 8 KB per position per layer at runs/fast's width) and
  // the page faults of storage too large to reuse. docs/performance.md ("Decoding batches")
  // has the measurements.
  int batch_sentences(int beam_size) const;
  // Sentences of beam_size hypotheses each in a batch of `rows` decoder rows, at least one.
  static int sentences_for_rows(int rows, int beam_size);
  static constexpr int kDenseBatchRows = 64, kPackedBatchRows = 4;
  // [START] ids [END], cut to max_tokens as in training.
  std::vector<int32_t> encode_source(const std::string& sentence) const;
  // Wordpieces of a sentence before any cut, and how many the model reads (max_tokens - 2,
  // leaving room for [START] and [END]).
  int64_t source_wordpieces(const std::string& sentence) const;
  // Nothing to translate: no wordpiece survives normalisation (empty, spaces, or only control
  // and format characters such as NUL or U+200B). Such a sentence is not decoded and has an
  // empty translation, as Marian and CTranslate2 answer an empty line with an empty line.
  bool blank(const std::string& sentence) const;
  int64_t max_source_wordpieces() const { return max_tokens_ - 2; }
  // "136 wordpieces, cut to the model's 126" for a sentence longer than the model reads,
  // "" otherwise: the warning `translate` prints on stderr and `serve` returns.
  std::string truncation_warning(const std::string& sentence) const;

 private:
  const Transformer& model_;
  const Vocabulary& source_;
  const Vocabulary& target_;
  int max_tokens_;
  // Whether decoding steps run on the thread team or alone, timed across every call (core/
  // thread_choice.h), so that sentences translated one at a time do not each pay for a probe.
  // Used when the options name none.
  mutable ThreadChoice thread_choice_;
};

}  // namespace bcqnmt

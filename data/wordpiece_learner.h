#pragma once
// Learns a WordPiece vocabulary the way TensorFlow Text's bert_vocab_from_dataset does
// (tensorflow_text/tools/wordpiece_vocab/wordpiece_tokenizer_learner_lib.py, `learn`):
//
//  1. Count BERT words (bert_split_words) over the corpus.
//  2. For a count threshold t, run `num_iterations` rounds: count every substring of every
//     word (round 0) or every substring starting at a piece boundary of the previous
//     round's vocabulary (later rounds), "##"-prefixed when it does not start the word;
//     walking from the longest substrings down, keep those with count >= t and subtract
//     each kept substring's count from its prefixes (a longer piece "explains" them).
//     Every character seen, alone and "##"-prefixed, is always kept.
//  3. Binary-search t between max(min count, lower_thresh) and min(max count,
//     upper_thresh) until the vocabulary has between (1 - slack) * vocab_size and
//     vocab_size entries, or the search space is exhausted.
//
// The vocabulary lists the reserved tokens, then every single character (code point
// order), then the learned pieces by count (descending) then text. Every step is
// deterministic: the same word counts give the same token list.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bcqnmt {

struct WordpieceLearnerOptions {
  int64_t vocab_size = 8000;
  std::vector<std::string> reserved_tokens = {"[PAD]", "[UNK]", "[START]", "[END]"};
  int64_t upper_thresh = 10'000'000;
  int64_t lower_thresh = 10;
  int num_iterations = 4;
  int64_t max_input_tokens = 5'000'000;  // most frequent words kept
  int max_token_length = 50;             // longer words (in characters) are not learned from
  int max_unique_chars = 1000;           // words with rarer characters are not learned from
  double slack_ratio = 0.05;
  std::string joiner = "##";
};

// Word -> number of occurrences, over the BERT words of `lines`.
using WordCounts = std::map<std::string, int64_t>;
WordCounts count_bert_words(const std::vector<std::string>& lines);

// Interns every substring once and runs the rounds on integer arrays (~1 s per language).
std::vector<std::string> learn_wordpiece_vocabulary(const WordCounts& counts,
                                                    const WordpieceLearnerOptions& options = {});
// A line-by-line port of the Python learner (string-keyed dicts, ~20x slower); tests check
// that both give the same list.
std::vector<std::string> learn_wordpiece_vocabulary_reference(const WordCounts& counts,
                                                              const WordpieceLearnerOptions& options = {});

}  // namespace bcqnmt

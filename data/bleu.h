#pragma once
// Corpus BLEU (Papineni et al. 2002) in the two forms bcqnmt reports (docs/reference.md §4).
//
// nltk_corpus_bleu: the reference protocol, nltk 3.8 `corpus_bleu` with default arguments on
// whitespace-split lines (Python str.split()), scale 0..1. Clipped n-gram matches and
// hypothesis n-gram counts, n = 1..4, are summed over sentences, except that each sentence
// contributes max(1, its n-gram count) to the denominator (nltk's modified_precision; so a
// corpus with lines shorter than 4 tokens scores below 1 against itself). Uniform weights,
// brevity penalty exp(1 - r/c) when c <= r (single reference: r is its length), no
// smoothing: 0 if no unigram matches; a precision with no match enters the log as
// sys.float_info.min (nltk's method0), which makes the score ~1e-231, i.e. 0.
//
// sacrebleu_corpus_bleu: bcqnmt's reimplementation of sacreBLEU 2.3.1's default corpus BLEU
// (13a tokenisation, exp smoothing, scale 0..100, one reference). Not sacreBLEU itself:
// its signature says "-compatible".
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bcqnmt {

// Both throw DataError if the two lists have different lengths.
double nltk_corpus_bleu(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses);

struct SacreBleuScore {
  double score = 0.0;                    // 0..100
  std::array<double, 4> precisions{};    // percent, after smoothing, n = 1..4
  double brevity_penalty = 0.0;
  int64_t hypothesis_length = 0;         // tokens after 13a tokenisation
  int64_t reference_length = 0;
  std::string signature;                 // kSacreBleuSignature
};

inline constexpr const char* kSacreBleuSignature =
    "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.3.1-compatible";

SacreBleuScore sacrebleu_corpus_bleu(const std::vector<std::string>& references,
                                     const std::vector<std::string>& hypotheses);

// sacreBLEU's tokenizer_13a (mteval-v13a.pl's tokenisation): unescape &quot; &amp; &lt;
// &gt;, split off punctuation and symbols, split '.' and ',' unless between digits, split
// '-' after a digit; tokens joined by one space.
std::string tokenize_13a(std::string_view line);

}  // namespace bcqnmt

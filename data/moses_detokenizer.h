#pragma once
// Puts BERT words back into the corpus's own writing: the TED hrlr text is lowercased and
// Moses-tokenized (`it 's`, `do n't`, `` ``quoted'' ``, `long-term`, `10,000`, `u.s.`),
// while BERT splitting turns `'s` into `' s` and `n't` into `n ' t`. Joining BERT words with
// spaces would leave 4.2% of the test references' tokens unmatchable by a whitespace BLEU
// (docs/reference.md §3), so decoding re-glues what the Moses tokenizer kept together.
//
// The rules were read off train.en (each one's evidence is beside it in the .cpp) and are
// measured on the references themselves: detokenize(split(line)) == line for 99.1% of
// test.en lines (the rest are mostly typos in the corpus such as `winter.mt`).
#include <string>
#include <string_view>
#include <vector>

namespace bcqnmt {

std::string moses_detokenize(const std::vector<std::string>& words);

// The corpus's tokenized form -> readable English, following Moses detokenizer.perl's English
// rules (Koehn et al. 2007; scripts/tokenizer/detokenizer.perl -l en): `, . ? ! : ; % ) ] }`
// and `...` join the word before, `( [ { $` the word after; `'s 're 've 'm 'll 'd` and `n't`
// join the word before (`it's`, `don't`); `` and '' become " joined inward. A lone `'`
// joins the word before after -s/-in or a sentence mark (`students' minds`, `'cool.'`).
// Case is left alone (data/sentence_case.h capitalises). moses_tokenize_english
// (data/moses_tokenizer.h) is the way back.
//   "i do n't know , `` he said . ''" -> "i don't know, \"he said.\""
std::string detokenize_english(std::string_view tokenized);

}  // namespace bcqnmt

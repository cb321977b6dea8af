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
#include <vector>

namespace bcqnmt {

std::string moses_detokenize(const std::vector<std::string>& words);

}  // namespace bcqnmt

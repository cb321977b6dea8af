#pragma once
// What `translate` prints by default: the corpus's lower-cased, Moses-tokenized English
// (`i do n't know , `` he said . ''`) as a reader writes it (`I don't know, "he said."`):
// Moses' detokenizer rules (data/moses_detokenizer.h detokenize_english), then sentence
// casing (data/sentence_case.h). moses_tokenize_english (data/moses_tokenizer.h) maps it
// back; the round trip is exact on 99.6% of test.en (tests/test_data_moses_tokenizer.cpp).
#include <string>
#include <string_view>

namespace bcqnmt {

std::string readable_english(std::string_view tokenized);

}  // namespace bcqnmt

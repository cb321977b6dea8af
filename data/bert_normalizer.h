#pragma once
// BERT's BasicTokenizer with lower_case=True (Devlin et al. 2019, google-research/bert
// tokenization.py; TensorFlow Text BasicTokenizer does the same with ICU):
//   case fold -> NFD -> drop combining marks (Mn) -> drop control characters (category C*
//   except \t \n \r, plus U+0000 and U+FFFD) -> split on whitespace (\t \n \r, Z*) ->
//   every punctuation character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*) and
//   every CJK ideograph becomes a word of its own.
// The corpus is mostly ASCII, so pure-ASCII lines take a byte loop that gives the same
// words as the ICU path (tests compare the two).
#include <string>
#include <string_view>
#include <vector>

namespace bcqnmt {

bool bert_is_punctuation(char32_t c);

// Replaces the contents of `words` with the words of `line`; reuses the strings' storage.
void bert_split_words(std::string_view line, std::vector<std::string>& words);
std::vector<std::string> bert_split_words(std::string_view line);

// The general (ICU) path, used for non-ASCII lines; exposed so tests can compare it with
// the ASCII fast path.
void bert_split_words_unicode(std::string_view line, std::vector<std::string>& words);

// The character-level part alone (fold, NFD, drop Mn and controls), whitespace kept:
// what a round trip can at best give back ("accents aside").
std::string bert_normalize_characters(std::string_view line);

}  // namespace bcqnmt

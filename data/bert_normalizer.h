#pragma once
// TensorFlow Text's BertTokenizer word splitting (its BasicTokenizer, lower_case=True),
// category by category (tensorflow/text bert_tokenizer.py; tensorflow/text#817):
//   NFKC_Casefold -> NFD -> drop combining marks (Mn) -> control and format characters
//   (Cc, Cf) become a space -> split on RE2's \s ([\t\n\f\r ]) -> every punctuation
//   character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*) and every CJK ideograph
//   becomes a word of its own. Every other code point (letters, numbers, symbols, Mc, Me,
//   Co, Cn, U+FFFD, and the Z* separators NFKC leaves: U+1680, U+2028, U+2029) is part of a
//   word. (Google's Python BERT differs: it drops controls, U+0000 and U+FFFD, and splits
//   on every Z*.)
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

// The character-level part alone (fold, NFD, drop Mn, controls to spaces), whitespace kept:
// what a round trip can at best give back ("accents aside").
std::string bert_normalize_characters(std::string_view line);

}  // namespace bcqnmt

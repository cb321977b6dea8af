#pragma once
// Sentence casing for lower-cased English: the first letter of each sentence and the pronoun
// `I` (`i`, `i'm`, `i've`, `i'll`, `i'd`) in capitals; everything else as it was (names
// cannot be recovered from lower-cased text). A sentence ends at `?` or `!`, or at a period
// that Moses' tokenizer would split off (data/moses_tokenizer.h: not after a non-breaking
// prefix such as `mr.` or an initialism such as `u.s.`), followed by a space; `...` ends none.
//   "here it is. i'm dead, mr. smith." -> "Here it is. I'm dead, mr. smith."
#include <string>
#include <string_view>

namespace bcqnmt {

std::string sentence_case(std::string_view text);

}  // namespace bcqnmt

#pragma once
// English text -> the corpus's tokenized form (lower-cased, Moses-tokenized): the way back
// from what `translate` prints to what BLEU and the references use. The rules follow Moses
// tokenizer.perl's English rules (Koehn et al. 2007; scripts/tokenizer/tokenizer.perl, -l en,
// no aggressive hyphen splitting): every character that is not a letter, digit, space or one
// of . ' , - / stands alone; a comma stays only between digits (10,000); `...` is one token;
// `it's` -> `it 's`; a word-final period is split unless the stem is a non-breaking prefix
// (mr., u.s.) or the next word starts in lower case. The TED hrlr corpus departs from
// tokenizer.perl in four places, and so does this: `n't` is split off as in the Penn Treebank
// (`do n't`, `ca n't`); double quotes become `` and ''; a word-initial apostrophe stays on
// its word (`'80s`, `'cause`) and `/` stays inside one (`24/7`); a line's last period is
// always split (`u.s .`). Lower-casing comes last, as the corpus was cased when tokenized.
#include <string>
#include <string_view>

namespace bcqnmt {

// "He said, \"I don't know.\"" -> "he said , `` i do n't know . ''" (UTF-8 in, UTF-8 out).
std::string moses_tokenize_english(std::string_view text);

// The titles of Moses' nonbreaking_prefix.en that occur in the corpus (`mr. noise`,
// `dr. abdi`). `stem` is lower-case, without the period.
bool is_title_abbreviation(std::string_view stem);
// A title, a single letter (`k.` in `derek k. miller`) or `etc`: a period after them ends
// no sentence.
bool is_nonbreaking_prefix(std::string_view stem);

// Letters separated by periods (`u.s`, `a.m`, `i.q`): an initialism, whose periods stay.
bool is_initialism(std::string_view stem);

// Moses' English clitics, the part after the apostrophe: `'s 're 've 'm 'll 'd 'em`.
bool is_english_clitic(std::string_view after_apostrophe);

}  // namespace bcqnmt

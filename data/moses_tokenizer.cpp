#include "data/moses_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <vector>

namespace bcqnmt {

namespace {

constexpr std::array<std::string_view, 7> kClitics = {"s", "re", "ve", "m", "ll", "d", "em"};
constexpr std::array<std::string_view, 8> kTitles = {"mr", "mrs", "ms", "dr", "st", "vs", "jr", "sr"};

// Code points of a UTF-8 string (ill-formed bytes become U+FFFD).
std::vector<UChar32> code_points(std::string_view s) {
  std::vector<UChar32> out;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    out.push_back(c < 0 ? 0xFFFD : c);
  }
  return out;
}

void append_utf8(std::string& out, UChar32 c) {
  uint8_t buffer[U8_MAX_LENGTH];
  int32_t length = 0;
  [[maybe_unused]] UBool error = false;  // c is a valid code point: nothing to report
  U8_APPEND(buffer, length, U8_MAX_LENGTH, c, error);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

using Word = std::vector<UChar32>;

bool alpha(UChar32 c) { return u_isalpha(c); }
bool digit(UChar32 c) { return u_isdigit(c); }

// Step 1 (tokenizer.perl "separate out all other special characters"), with double quotes
// turned into `` (at the start of the text, after a space or an opening bracket) and ''
// (elsewhere). The corpus opens quotes within quotes at a line's start (`` `` yes ...).
std::vector<Word> split_special_characters(const std::vector<UChar32>& text) {
  std::vector<Word> words(1);
  auto close_word = [&] {
    if (!words.back().empty()) words.emplace_back();
  };
  auto stand_alone = [&](std::initializer_list<UChar32> token) {
    close_word();
    words.back() = token;
    words.emplace_back();
  };
  bool only_quotes = true;  // the text so far is double quotes only
  for (size_t i = 0; i < text.size(); ++i) {
    const UChar32 c = text[i];
    only_quotes = only_quotes && (i == 0 || text[i - 1] == '"');
    if (u_isUWhiteSpace(c)) {
      close_word();
    } else if (c == '"') {
      const bool opening = only_quotes || u_isUWhiteSpace(text[i - 1]) || text[i - 1] == '(' || text[i - 1] == '[';
      stand_alone(opening ? std::initializer_list<UChar32>{'`', '`'} : std::initializer_list<UChar32>{'\'', '\''});
    } else if (u_isalnum(c) || c == '.' || c == '\'' || c == ',' || c == '-' || c == '/') {
      words.back().push_back(c);
    } else {
      stand_alone({c});
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

// Steps 2-4 for one word: commas (kept only between digits), runs of periods, apostrophes.
void split_word(const Word& w, std::vector<Word>& out) {
  Word current;
  auto flush = [&] {
    if (!current.empty()) out.push_back(std::move(current));
    current.clear();
  };
  const size_t n = w.size();
  for (size_t i = 0; i < n; ++i) {
    const UChar32 c = w[i];
    const UChar32 prev = i > 0 ? w[i - 1] : 0, next = i + 1 < n ? w[i + 1] : 0;
    if (c == ',' && !(digit(prev) && digit(next))) {
      flush();
      out.push_back({','});
    } else if (c == '.' && next == '.') {
      flush();
      size_t end = i;
      while (end < n && w[end] == '.') ++end;
      out.emplace_back(end - i, '.');
      i = end - 1;
    } else if (c == '\'' && current.empty() && u_isalnum(next)) {
      current.push_back(c);  // word-initial: `'80s`, `'cause` (the corpus keeps it)
    } else if (c == '\'' && alpha(prev) && alpha(next)) {
      Word rest(w.begin() + static_cast<std::ptrdiff_t>(i) + 1, w.end());
      std::string ascii;
      for (UChar32 r : rest) ascii += static_cast<char>(u_tolower(r) < 128 ? u_tolower(r) : '?');
      const size_t letters = std::find_if_not(rest.begin(), rest.end(), alpha) - rest.begin();
      if (is_english_clitic(ascii.substr(0, letters))) flush();  // it's -> it 's; o'clock stays
      current.push_back(c);
    } else if (c == '\'' && digit(prev) && (next == 's' || next == 'S')) {
      flush();  // 1990's -> 1990 's
      current.push_back(c);
    } else if (c == '\'') {
      flush();
      out.push_back({'\''});
    } else {
      current.push_back(c);
    }
  }
  flush();
}

// Penn Treebank's `n't`: don't -> do n't, can't -> ca n't.
void split_negation(std::vector<Word>& words) {
  std::vector<Word> out;
  for (Word& w : words) {
    const size_t n = w.size();
    if (n > 3 && u_tolower(w[n - 3]) == 'n' && w[n - 2] == '\'' && u_tolower(w[n - 1]) == 't' && alpha(w[n - 4])) {
      out.emplace_back(w.begin(), w.end() - 3);
      out.emplace_back(w.end() - 3, w.end());
    } else {
      out.push_back(std::move(w));
    }
  }
  words = std::move(out);
}

// Step 5, word-final periods: tokenizer.perl's loop over words, plus the corpus's rule that
// the line's last period always stands alone.
void split_final_periods(std::vector<Word>& words) {
  std::vector<Word> out;
  for (size_t i = 0; i < words.size(); ++i) {
    Word& w = words[i];
    const bool last = i + 1 == words.size();
    if (w.size() > 1 && w.back() == '.' && std::any_of(w.begin(), w.end(), [](UChar32 c) { return c != '.'; })) {
      std::string stem;
      for (size_t k = 0; k + 1 < w.size(); ++k) append_utf8(stem, u_tolower(w[k]));
      const bool next_lower = !last && u_islower(words[i + 1][0]);
      if (last || !(is_initialism(stem) || is_nonbreaking_prefix(stem) || next_lower)) {
        out.emplace_back(w.begin(), w.end() - 1);
        out.push_back({'.'});
        continue;
      }
    }
    out.push_back(std::move(w));
  }
  words = std::move(out);
}

std::string lower_utf8(const Word& w) {
  std::string s;
  for (UChar32 c : w) append_utf8(s, u_tolower(c));
  return s;
}

}  // namespace

bool is_title_abbreviation(std::string_view stem) {
  return std::find(kTitles.begin(), kTitles.end(), stem) != kTitles.end();
}

bool is_nonbreaking_prefix(std::string_view stem) {
  const bool letter = stem.size() == 1 && stem[0] >= 'a' && stem[0] <= 'z';
  return letter || stem == "etc" || is_title_abbreviation(stem);
}

// tokenizer.perl's test: `$pre =~ /\./ && $pre =~ /\p{IsAlpha}/`.
bool is_initialism(std::string_view stem) {
  return stem.find('.') != std::string_view::npos &&
         std::any_of(stem.begin(), stem.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

bool is_english_clitic(std::string_view after_apostrophe) {
  return std::find(kClitics.begin(), kClitics.end(), after_apostrophe) != kClitics.end();
}

std::string moses_tokenize_english(std::string_view text) {
  std::vector<Word> words;
  for (const Word& w : split_special_characters(code_points(text))) {
    if (w == Word{'\'', '\''} || w == Word{'`', '`'})
      words.push_back(w);
    else
      split_word(w, words);
  }
  split_final_periods(words);
  split_negation(words);
  std::string out;
  for (const Word& w : words) {
    if (!out.empty()) out += ' ';
    out += lower_utf8(w);
  }
  return out;
}

}  // namespace bcqnmt

#include "data/moses_detokenizer.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "data/bert_normalizer.h"
#include "data/moses_tokenizer.h"

namespace bcqnmt {

namespace {

// Web addresses (`drawtoast.com`, `dosomething.org`).
constexpr std::array<std::string_view, 3> kDomains = {"com", "org", "net"};

template <size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view word) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

bool is_punctuation_token(std::string_view t) {
  if (t.empty()) return false;
  const auto* s = reinterpret_cast<const uint8_t*>(t.data());
  int32_t i = 0;
  UChar32 c;
  U8_NEXT(s, i, static_cast<int32_t>(t.size()), c);
  return i == static_cast<int32_t>(t.size()) && c >= 0 && bert_is_punctuation(static_cast<char32_t>(c));
}

// "'" + word, built without operator+ (GCC 12 warns falsely on it, -Wrestrict).
std::string apostrophe_then(std::string_view word) {
  std::string token(1, '\'');
  token.append(word);
  return token;
}

bool is_word(std::string_view t) { return !t.empty() && !is_punctuation_token(t); }
bool is_letter(std::string_view t) { return t.size() == 1 && t[0] >= 'a' && t[0] <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_number(std::string_view t) { return !t.empty() && std::all_of(t.begin(), t.end(), is_digit); }
bool ends_with(std::string_view t, std::string_view suffix) {
  return t.size() >= suffix.size() && t.substr(t.size() - suffix.size()) == suffix;
}
// The last character of a (possibly already glued) token is a letter or digit.
bool ends_in_word(std::string_view t) {
  if (t.empty()) return false;
  const auto* s = reinterpret_cast<const uint8_t*>(t.data());
  int32_t i = static_cast<int32_t>(t.size());
  UChar32 c;
  U8_PREV(s, 0, i, c);
  return c >= 0 && !bert_is_punctuation(static_cast<char32_t>(c));
}
// `u.s`, `a.m`, `u`: letters separated by dots.
bool is_initialism_stem(std::string_view t) {
  if (t.empty() || t.size() % 2 == 0) return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (i % 2 == 0 ? !(t[i] >= 'a' && t[i] <= 'z') : t[i] != '.') return false;
  return true;
}

// Pass 1: multi-character Moses tokens that BERT cut into single punctuation marks and
// clitics: `` '' ... n't 's 're 've 'm 'll 'd 'em, elisions (o'clock, l'aquila), and an
// opening single quote (`'cause`, `'80s`, `word 'fancy '`). After a word ending in -s or
// -in an apostrophe is a possessive or a dropped g (`students ' minds`, `wavin ' flag`),
// which Moses leaves apart.
std::vector<std::string> merge_apostrophes_and_quotes(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  const size_t n = in.size();
  auto at = [&](size_t k) -> std::string_view { return k < n ? std::string_view(in[k]) : std::string_view(); };
  for (size_t i = 0; i < n;) {
    const std::string_view t = in[i];
    const std::string_view next = at(i + 1);
    if (t == "`" && next == "`") {
      out.emplace_back("``");
      i += 2;
    } else if (t == "'" && next == "'") {
      out.emplace_back("''");
      i += 2;
    } else if (t == "." && next == "." && at(i + 2) == ".") {
      out.emplace_back("...");
      i += 3;
    } else if (t == "n" && next == "'" && at(i + 2) == "t") {
      out.emplace_back("n't");
      i += 3;
    } else if (t == "'" && !out.empty() && is_english_clitic(next)) {
      out.push_back(apostrophe_then(next));
      i += 2;
    } else if (t == "'" && is_word(next) && !out.empty() && out.back().size() == 1 && is_word(out.back())) {
      out.back() += apostrophe_then(next);
      i += 2;
    } else if (t == "'" && is_word(next) &&
               (is_digit(next[0]) || out.empty() || !is_word(out.back()) ||
                !(ends_with(out.back(), "s") || ends_with(out.back(), "in")))) {
      out.push_back(apostrophe_then(next));
      i += 2;
    } else {
      out.emplace_back(t);
      i += 1;
    }
  }
  return out;
}

// Pass 2: punctuation inside a Moses token: `long-term`, `9/11`, `10,000`, `1.2`, `u.s.`,
// `mr.`, `etc.,`, `john k. smith`, `ted.com`. Moses splits a final period off, so a
// sentence-final `u.n .` keeps its space.
std::vector<std::string> glue_word_internal_punctuation(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const std::string& t = in[i];
    const bool has_prev = !out.empty();
    const bool has_next = i + 1 < n;
    const std::string_view prev = has_prev ? std::string_view(out.back()) : std::string_view();
    const std::string_view next = has_next ? std::string_view(in[i + 1]) : std::string_view();
    if (!has_prev || !has_next) {
      out.push_back(t);
      i += 1;
      continue;
    }
    if ((t == "-" || t == "/") && ends_in_word(prev) && is_word(next)) {
      out.back() += t + in[i + 1];
      i += 2;
    } else if (t == "," && is_digit(prev.back()) && next.size() == 3 && is_number(next)) {
      out.back() += t + in[i + 1];
      i += 2;
    } else if (t == "." && is_digit(prev.back()) && is_number(next)) {
      out.back() += t + in[i + 1];
      i += 2;
    } else if (t == "." && is_initialism_stem(prev) && is_letter(next) && i + 2 < n && in[i + 2] == ".") {
      out.back() += "." + in[i + 1];
      const bool final_period = i + 3 == n;
      if (!final_period) out.back() += ".";
      i += final_period ? 2 : 3;
    } else if (t == "." && (is_title_abbreviation(prev) || (prev == "etc" && next == ","))) {
      out.back() += ".";
      i += 1;
    } else if (t == "." && is_letter(prev) && is_word(next)) {
      out.back() += ".";
      i += 1;
    } else if (t == "." && ends_in_word(prev) && one_of(kDomains, next)) {
      out.back() += "." + in[i + 1];
      i += 2;
    } else {
      out.push_back(t);
      i += 1;
    }
  }
  return out;
}

}  // namespace

std::string moses_detokenize(const std::vector<std::string>& words) {
  const std::vector<std::string> tokens = glue_word_internal_punctuation(merge_apostrophes_and_quotes(words));
  std::string line;
  for (const std::string& token : tokens) {
    if (!line.empty()) line += ' ';
    line += token;
  }
  return line;
}

}  // namespace bcqnmt

namespace bcqnmt {

namespace {

bool joins_left(std::string_view t, std::string_view prev) {
  static constexpr std::array<std::string_view, 12> kClosing = {",", ".", "?", "!", ":", ";", "%", ")", "]", "}", "''", "n't"};
  if (one_of(kClosing, t) || (t.size() > 1 && t.find_first_not_of('.') == std::string_view::npos)) return true;
  if (t.size() > 1 && t[0] == '\'' && is_english_clitic(t.substr(1)) && t != "'em") return ends_in_word(prev);
  if (t == "'")  // possessive or dropped g (`students '`, `wavin '`), or a closing quote after a mark
    return ends_with(prev, "s") || ends_with(prev, "in") || prev == "." || prev == "?" || prev == "!";
  return false;
}

bool joins_right(std::string_view t) {
  static constexpr std::array<std::string_view, 8> kOpening = {"(", "[", "{", "$", "£", "€", "``", "¿"};
  return one_of(kOpening, t);
}

}  // namespace

std::string detokenize_english(std::string_view tokenized) {
  std::string line;
  std::string_view prev;
  bool glue_next = true;  // no space before the next token
  for (size_t begin = 0; begin < tokenized.size();) {
    size_t end = tokenized.find(' ', begin);
    if (end == std::string_view::npos) end = tokenized.size();
    const std::string_view t = tokenized.substr(begin, end - begin);
    begin = end + 1;
    if (t.empty()) continue;
    if (!glue_next && !joins_left(t, prev)) line += ' ';
    line += t == "``" || t == "''" ? std::string_view("\"") : t;
    glue_next = joins_right(t);
    prev = t;
  }
  return line;
}

}  // namespace bcqnmt

#include "data/sentence_case.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "data/moses_tokenizer.h"

namespace bcqnmt {

namespace {

// The code point at byte i and the byte after it.
UChar32 at(std::string_view s, size_t i, size_t& next) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  auto k = static_cast<int32_t>(i);
  UChar32 c;
  U8_NEXT(p, k, static_cast<int32_t>(s.size()), c);
  next = static_cast<size_t>(k);
  return c;
}

bool opening_mark(char c) { return c == '"' || c == '(' || c == '[' || c == '\''; }
bool closing_mark(char c) { return c == '"' || c == ')' || c == ']' || c == '\''; }

// Does the word ending at byte `end` (exclusive; text[end - 1] is ?, ! or .) end a sentence?
bool ends_sentence(std::string_view text, size_t end) {
  const char mark = text[end - 1];
  if (mark == '?' || mark == '!') return true;
  if (end >= 2 && text[end - 2] == '.') return false;  // `...`
  size_t begin = text.rfind(' ', end - 1);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  while (begin < end && opening_mark(text[begin])) ++begin;
  const std::string_view stem = text.substr(begin, end - 1 - begin);
  return !stem.empty() && !is_nonbreaking_prefix(stem) && !is_initialism(stem);
}

// The pronoun: `i` alone or before an apostrophe, between word boundaries.
bool is_pronoun_i(std::string_view text, size_t i) {
  if (text[i] != 'i' || (i > 0 && text[i - 1] != ' ' && !opening_mark(text[i - 1]))) return false;
  if (i + 1 == text.size()) return true;
  const char after = text[i + 1];
  if (after == '.') return i + 2 == text.size() || text[i + 2] == ' ';
  return after == '\'' || after == ' ' || after == ',' || after == '?' || after == '!' || after == ';' ||
         after == ':' || closing_mark(after);
}

}  // namespace

std::string sentence_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool sentence_start = true;
  for (size_t i = 0; i < text.size();) {
    size_t next = i;
    const UChar32 c = at(text, i, next);
    if (c >= 0 && u_isalnum(c) && (sentence_start || is_pronoun_i(text, i))) {
      const UChar32 upper = u_toupper(c);
      uint8_t buffer[U8_MAX_LENGTH];
      int32_t length = 0;
      [[maybe_unused]] UBool error = false;  // a valid code point: nothing to report
      U8_APPEND(buffer, length, U8_MAX_LENGTH, upper, error);
      out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
      sentence_start = false;
      i = next;
      continue;
    }
    out.append(text.substr(i, next - i));
    if (c >= 0 && u_isalnum(c)) {
      sentence_start = false;
    } else if (c == ' ' && i > 0) {
      size_t end = i;  // skip closing quotes and brackets back to the mark
      while (end > 0 && closing_mark(text[end - 1])) --end;
      const char mark = end > 0 ? text[end - 1] : ' ';
      if ((mark == '.' || mark == '?' || mark == '!') && ends_sentence(text, end)) sentence_start = true;
    }
    i = next;
  }
  return out;
}

}  // namespace bcqnmt

#include "core/quoted_text.h"

#include <cstdio>

namespace bcqnmt {

namespace {

// The length of the UTF-8 sequence starting at `at` (RFC 3629 lead bytes C2..F4, then
// continuation bytes 80..BF), or 0 if it is not one.
std::size_t utf8_sequence(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(at);
  std::size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  if (length == 0 || at + length > text.size()) return 0;
  for (std::size_t k = at + 1; k < at + length; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return length;
}

}  // namespace

std::string quoted_text(std::string_view text, std::size_t limit) {
  std::string out;
  const std::size_t end = text.size() < limit ? text.size() : limit;
  for (std::size_t at = 0; at < end;) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++at;
    } else if (const std::size_t length = c >= 0x80 ? utf8_sequence(text, at) : 0; length > 0) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
      ++at;
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace bcqnmt

#include "data/utf8.h"

#include <unicode/utf8.h>

namespace bcqnmt {

int64_t first_invalid_utf8(const std::string& line) {
  const auto* s = reinterpret_cast<const uint8_t*>(line.data());
  const int32_t n = static_cast<int32_t>(line.size());
  int32_t i = 0;
  while (i < n) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) return start;
  }
  return -1;
}

int64_t replace_invalid_utf8(std::string& line) {
  if (first_invalid_utf8(line) < 0) return 0;
  const auto* s = reinterpret_cast<const uint8_t*>(line.data());
  const int32_t n = static_cast<int32_t>(line.size());
  std::string repaired;
  int64_t replaced = 0;
  int32_t i = 0;
  while (i < n) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);  // advances past the maximal ill-formed subpart when c < 0
    if (c < 0) {
      repaired += "\xEF\xBF\xBD";
      ++replaced;
    } else {
      repaired.append(line, start, i - start);
    }
  }
  line = std::move(repaired);
  return replaced;
}

}  // namespace bcqnmt

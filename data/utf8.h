#pragma once
// UTF-8 well-formedness, decided by ICU's U8_NEXT (the Unicode standard's "maximal subpart"
// rule): one owner for the corpus loader, which rejects ill-formed lines, and for translate,
// which repairs them and says so.
#include <cstdint>
#include <string>

namespace bcqnmt {

// Index of the first byte of an ill-formed UTF-8 sequence in `line`, or -1.
int64_t first_invalid_utf8(const std::string& line);

// Replaces every ill-formed sequence with U+FFFD (EF BF BD), as the Unicode standard
// recommends for decoders; returns how many were replaced.
int64_t replace_invalid_utf8(std::string& line);

}  // namespace bcqnmt

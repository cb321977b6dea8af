#pragma once
// Bytes read from a file, as an error message may quote them (a vocabulary token, a weight
// name stored in a .bcq): a NUL would end the message where the shell prints it, and a binary
// file's bytes would garble the terminal. The one rule for echoing file contents.
#include <cstddef>
#include <string>
#include <string_view>

namespace bcqnmt {

// `text` with control bytes and bytes that are not well-formed UTF-8 written as \xNN, cut
// after `limit` bytes of `text` with "..." appended.
std::string quoted_text(std::string_view text, std::size_t limit = 64);

}  // namespace bcqnmt

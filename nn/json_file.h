#pragma once
// Reading a JSON file: every way it can fail, as one line that names the file
// ("RUN/pretrain/manifest.json: malformed JSON (parse error at line 3, column 1: ...)",
// "RUN/config.json: not a regular file"), never nlohmann's or the stream's own text ("[json.exception...]",
// "basic_filebuf::underflow"). The one owner of that wrapping: every JSON file is read with
// read_json_file, JSON text from elsewhere (the config inside a .bcq or .ckpt, a metrics.jsonl
// line, a request body) with parse_json_text, and a reader that catches nlohmann's errors
// while interpreting the value words them with json_error_text.
// nlohmann's own type errors do not say which key they are about (JSON_DIAGNOSTICS would, at
// the cost of a different nlohmann::json layout in every target); readers that check a
// value's type first (nn/json_fields.h, PhaseFiles::manifest) name the key themselves.
#include <cstdint>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nn/error.h"

namespace bcqnmt {

// A JSON file larger than this is refused before it is read: the largest bcqnmt writes is
// far below it (metrics.jsonl of the 22-epoch fast run in docs/results.md: 121 kB).
constexpr std::uintmax_t kMaxJsonFileBytes = std::uintmax_t{256} << 20;

// JSON nested deeper than this is refused before nlohmann parses it: bcqnmt's own files nest
// at most 4 levels, while nlohmann's recursive members (copy, dump, comparison, flatten) run
// out of stack near depth 100,000, which a 400 kB file reaches.
constexpr int kMaxJsonDepth = 64;

// nlohmann's message without its "[json.exception.type_error.302] " tag (any other
// exception: its what()).
std::string json_error_text(const std::exception& error);

// Parses `text`, read from `source` (a file, or "FILE line N"), into `out`; returns "" or the
// one-line error starting with `source`: nested deeper than kMaxJsonDepth, not JSON (line and
// column), or a number no double holds (1e400). The one place bcqnmt parses JSON text.
std::string parse_json_text(std::string_view text, const std::string& source, nlohmann::json& out);

// Parses `path` into `out`; returns "" or the one-line error naming the file: missing, not a
// regular file, unreadable, larger than kMaxJsonFileBytes, or parse_json_text's errors.
std::string parse_json_file(const std::filesystem::path& path, nlohmann::json& out);

// The parsed contents of `path`, or parse_json_file's error as the caller's module error
// type (Error: constructible from a string, as in nn/json_fields.h).
template <class Error = NnError>
nlohmann::json read_json_file(const std::filesystem::path& path) {
  nlohmann::json j;
  if (const std::string error = parse_json_file(path, j); !error.empty()) throw Error(error);
  return j;
}

}  // namespace bcqnmt

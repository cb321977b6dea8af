#pragma once
// Reading a JSON file: every way it can fail, as one line that names the file and, where
// there is one, the key ("RUN/pretrain/manifest.json: at /source/step: type must be number,
// but is string"), never nlohmann's or the stream's own text ("[json.exception...]",
// "basic_filebuf::underflow", "std::bad_alloc"). The one owner of that wrapping: a command
// reads a JSON file with read_json_file and interprets it inside with_json_file_errors.
// nlohmann's own type errors do not say which key they are about (JSON_DIAGNOSTICS would, at
// the cost of a different nlohmann::json layout in every target); readers that check a
// value's type first (nn/json_fields.h, PhaseFiles::manifest) name the key themselves.
#include <cstdint>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/error.h"

namespace bcqnmt {

// A JSON file larger than this is refused before it is read: the largest bcqnmt writes
// (metrics.jsonl of a 30-epoch run, ~1 MB) is far below it.
constexpr std::uintmax_t kMaxJsonFileBytes = std::uintmax_t{256} << 20;

// nlohmann's message without its "[json.exception.type_error.302] " tag (any other
// exception: its what()).
std::string json_error_text(const std::exception& error);

// Runs `interpret` (reading values out of a file's parsed JSON) and rethrows the library's
// errors as NnError "PATH: ...": nlohmann's (a value of the wrong type, a missing key),
// std::bad_alloc (a size no memory holds) and stream errors. Errors of bcqnmt's own types
// pass through unchanged; they name the file already.
template <class Interpret>
auto with_json_file_errors(const std::filesystem::path& path, Interpret&& interpret) -> decltype(interpret()) {
  try {
    return interpret();
  } catch (const nlohmann::json::exception& e) {
    throw NnError(path.string() + ": " + json_error_text(e));
  } catch (const std::bad_alloc&) {
    throw NnError(path.string() + ": a size in the file is too large to hold in memory");
  } catch (const std::ios_base::failure& e) {
    throw NnError(path.string() + ": cannot read it (" + std::string(e.code().message()) + ")");
  }
}

// The parsed contents of `path`; NnError naming the file when it is missing, not a regular
// file, unreadable, larger than kMaxJsonFileBytes, or not JSON (with line and column).
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace bcqnmt

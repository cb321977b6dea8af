#include "data/corpus.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/data_error.h"
#include "data/utf8.h"

namespace bcqnmt {

namespace fs = std::filesystem;

namespace {

const char* kFetchHint =
    "get the corpus with `scripts/fetch_data.sh` (into ./ted_hrlr_pt_to_en, where bcqnmt looks by "
    "default), or pass its DEST as --data or in the environment variable BCQNMT_DATA";

// The original release names the validation split "dev" and puts the language first.
const char* original_split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kValidation: return "dev";
    case Split::kTest: return "test";
  }
  return "";
}

struct SplitFiles {
  fs::path source;
  fs::path target;
};

bool has_shared_layout(const fs::path& dir) {
  for (Split s : {Split::kTrain, Split::kValidation, Split::kTest})
    for (const char* lang : {".pt", ".en"})
      if (fs::exists(dir / (std::string(split_name(s)) + lang))) return true;
  return false;
}

bool has_original_layout(const fs::path& dir) {
  for (Split s : {Split::kTrain, Split::kValidation, Split::kTest})
    for (const char* lang : {"pt.", "en."})
      if (fs::exists(dir / (lang + std::string(original_split_name(s))))) return true;
  return false;
}

SplitFiles locate_split(const fs::path& dir, Split split) {
  if (!fs::is_directory(dir))
    throw DataError("data directory " + dir.string() + " does not exist; " + kFetchHint);
  if (has_shared_layout(dir)) {
    const std::string name = split_name(split);
    return {dir / (name + ".pt"), dir / (name + ".en")};
  }
  for (const fs::path& base : {dir / "datasets" / "pt_to_en", dir}) {
    if (has_original_layout(base)) {
      const std::string name = original_split_name(split);
      return {base / ("pt." + name), base / ("en." + name)};
    }
  }
  throw DataError("data directory " + dir.string() +
                  " holds no TED pt-en corpus (expected train.pt, train.en, ... or "
                  "datasets/pt_to_en/pt.train, ...); " + kFetchHint);
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + " is missing or unreadable (" + kFetchHint + ")");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    // A line ends at LF, CRLF or a lone CR (universal newlines, as Python's open()): a file
    // saved with classic Mac endings is not one merged line.
    size_t end = text.find_first_of("\r\n", begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n') ++end;
    const int64_t bad = first_invalid_utf8(line);
    if (bad >= 0)
      throw DataError(path.filename().string() + " line " + std::to_string(lines.size() + 1) +
                      ": invalid UTF-8 at byte " + std::to_string(bad + 1) + " (in " + path.string() +
                      ")");
    lines.push_back(std::move(line));
    begin = end + 1;
  }
  return lines;
}

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\v\f") == std::string::npos;
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kValidation: return "validation";
    case Split::kTest: return "test";
  }
  return "";
}

Split split_from_name(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "validation" || name == "dev") return Split::kValidation;
  if (name == "test") return Split::kTest;
  throw DataError("unknown split '" + name + "' (expected train, validation or test)");
}

ParallelText load_split(const std::string& dir, Split split) {
  const SplitFiles files = locate_split(dir, split);
  std::vector<std::string> source = read_lines(files.source);
  std::vector<std::string> target = read_lines(files.target);
  if (source.size() != target.size())
    throw DataError(files.target.filename().string() + " has " + std::to_string(target.size()) +
                    " lines but " + files.source.filename().string() + " has " +
                    std::to_string(source.size()) + " (in " + dir + ")");
  ParallelText text;
  text.source.reserve(source.size());
  text.target.reserve(target.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (is_blank(source[i]) || is_blank(target[i])) {
      ++text.dropped_pairs;
      continue;
    }
    text.source.push_back(std::move(source[i]));
    text.target.push_back(std::move(target[i]));
  }
  return text;
}

std::vector<std::string> default_data_dirs() {
  return {(fs::path("..") / "shared" / "data" / "ted_hrlr_pt_to_en").string(), "ted_hrlr_pt_to_en"};
}

std::optional<std::string> find_data_dir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("BCQNMT_DATA"); env != nullptr && env[0] != '\0') return env;
  for (const std::string& dir : default_data_dirs())
    if (fs::is_directory(dir)) return dir;
  return std::nullopt;
}

std::string resolve_data_dir(const std::string& flag_value) {
  if (std::optional<std::string> dir = find_data_dir(flag_value)) return *dir;
  std::string tried;
  for (const std::string& dir : default_data_dirs())
    tried += (tried.empty() ? "" : " nor ") + (fs::current_path() / dir).lexically_normal().string();
  throw DataError("no corpus found: no --data given, BCQNMT_DATA is not set, and neither " + tried +
                  " exists; " + kFetchHint);
}

}  // namespace bcqnmt

#pragma once
// The TED hrlr pt->en corpus (Qi et al. 2018) as sentence pairs, read from either layout:
//   shared:   DIR/{train,validation,test}.{pt,en}
//   original: DIR/datasets/pt_to_en/{pt,en}.{train,dev,test}, or DIR = .../pt_to_en itself
//             (what scripts/fetch_data.sh extracts).
// Both sides must have the same number of lines and be valid UTF-8; a line ends at LF, CRLF
// or a lone CR; a pair with an empty (or all-blank) side is dropped, as TFDS does, and
// counted in ParallelText::dropped_pairs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bcqnmt {

enum class Split { kTrain, kValidation, kTest };

const char* split_name(Split split);  // "train", "validation", "test"
Split split_from_name(const std::string& name);  // also accepts "dev"; DataError otherwise

struct ParallelText {
  std::vector<std::string> source;  // pt
  std::vector<std::string> target;  // en, same size as source
  int64_t dropped_pairs = 0;        // pairs skipped because one side was empty
  int64_t size() const { return static_cast<int64_t>(source.size()); }
};

// Reads one split of the corpus in `dir` (either layout). Throws DataError naming the file
// and line on a missing file, a line-count mismatch or invalid UTF-8.
ParallelText load_split(const std::string& dir, Split split);

// The corpus directories bcqnmt looks in when neither --data nor $BCQNMT_DATA names one, in
// order, relative to the current directory: ../shared/data/ted_hrlr_pt_to_en (beside a
// checkout, as on the project's machines), then ted_hrlr_pt_to_en (scripts/fetch_data.sh's
// default DEST). scripts/fetch_data.sh --if-missing looks in the same places, and
// tests/test_data_fetch.cpp checks that the two agree.
std::vector<std::string> default_data_dirs();

// Where the corpus lives: `flag_value` if non-empty, else $BCQNMT_DATA, else the first of
// default_data_dirs() that exists; otherwise a DataError that names the places looked in
// and explains how to fetch the data (scripts/fetch_data.sh).
std::string resolve_data_dir(const std::string& flag_value);
// The same, without the error: nullopt when nothing was named and no default exists (for
// commands that can do without the corpus).
std::optional<std::string> find_data_dir(const std::string& flag_value);

}  // namespace bcqnmt

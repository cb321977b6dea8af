#pragma once
// The parts of the WordPiece learner shared by the fast and the reference implementation
// (wordpiece_learner.cpp, wordpiece_learner_reference.cpp): input filtering, the final
// ordering of the vocabulary and the binary search over the count threshold.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/wordpiece_learner.h"

namespace bcqnmt {

// A word with its character boundaries: the learner measures lengths in characters (code
// points), as the Python original does on str.
struct LearnerWord {
  std::string text;
  std::vector<int32_t> offsets;  // byte offset of each character, plus text.size()
  int64_t count = 0;
  int32_t length() const { return static_cast<int32_t>(offsets.size()) - 1; }
  std::string_view chars(int32_t begin, int32_t end) const {
    return std::string_view(text).substr(offsets[begin], offsets[end] - offsets[begin]);
  }
};

std::vector<int32_t> char_offsets(std::string_view text);

struct LearnerInput {
  std::vector<LearnerWord> words;  // after filtering, most frequent first
  std::set<std::string> chars;     // every character of those words (UTF-8 order = code point order)
};

// Drops reserved and over-long words, keeps words made of the max_unique_chars most
// frequent characters, at most max_input_tokens of the most frequent words.
LearnerInput prepare_learner_input(const WordCounts& counts, const WordpieceLearnerOptions& options);

// Reserved tokens, then the single characters, then `pieces` by count (descending) then
// text; each token once.
std::vector<std::string> final_vocabulary(const WordpieceLearnerOptions& options, const std::set<std::string>& chars,
                                          std::vector<std::pair<std::string, int64_t>> pieces);

// The binary search of tf-text's learn_binary_search over learn_with_thresh(threshold).
std::vector<std::string> search_count_threshold(
    const WordCounts& counts, const WordpieceLearnerOptions& options,
    const std::function<std::vector<std::string>(int64_t)>& learn_with_thresh);

}  // namespace bcqnmt

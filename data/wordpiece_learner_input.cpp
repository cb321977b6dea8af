#include "data/wordpiece_learner_input.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <climits>
#include <map>
#include <unordered_set>

#include "data/bert_normalizer.h"
#include "data/data_error.h"

namespace bcqnmt {

std::vector<int32_t> char_offsets(std::string_view text) {
  std::vector<int32_t> offsets;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n;) {
    offsets.push_back(i);
    U8_FWD_1(s, i, n);
  }
  offsets.push_back(n);
  return offsets;
}

LearnerInput prepare_learner_input(const WordCounts& counts, const WordpieceLearnerOptions& options) {
  std::vector<LearnerWord> words;
  std::map<std::string, int64_t> char_counts;
  for (const auto& [text, count] : counts) {
    if (std::find(options.reserved_tokens.begin(), options.reserved_tokens.end(), text) !=
        options.reserved_tokens.end())
      continue;
    LearnerWord word{text, char_offsets(text), count};
    if (word.length() > options.max_token_length || word.length() == 0) continue;
    for (int32_t i = 0; i < word.length(); ++i) char_counts[std::string(word.chars(i, i + 1))] += count;
    words.push_back(std::move(word));
  }
  // Characters by count, ties alphabetically (char_counts is already in text order).
  std::vector<std::pair<std::string, int64_t>> by_count(char_counts.begin(), char_counts.end());
  std::stable_sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (static_cast<int64_t>(by_count.size()) > options.max_unique_chars) by_count.resize(options.max_unique_chars);
  std::unordered_set<std::string> allowed;
  for (const auto& entry : by_count) allowed.insert(entry.first);

  std::stable_sort(words.begin(), words.end(), [](const LearnerWord& a, const LearnerWord& b) { return a.count > b.count; });
  LearnerInput input;
  for (LearnerWord& word : words) {
    if (options.max_input_tokens >= 0 && static_cast<int64_t>(input.words.size()) >= options.max_input_tokens) break;
    bool ok = true;
    for (int32_t i = 0; i < word.length() && ok; ++i) ok = allowed.count(std::string(word.chars(i, i + 1))) != 0;
    if (!ok) continue;
    for (int32_t i = 0; i < word.length(); ++i) input.chars.emplace(word.chars(i, i + 1));
    input.words.push_back(std::move(word));
  }
  return input;
}

std::vector<std::string> final_vocabulary(const WordpieceLearnerOptions& options, const std::set<std::string>& chars,
                                          std::vector<std::pair<std::string, int64_t>> pieces) {
  std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> vocab;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string& token) {
    if (seen.insert(token).second) vocab.push_back(token);
  };
  for (const std::string& token : options.reserved_tokens) add(token);
  for (const std::string& c : chars) add(c);
  for (const auto& piece : pieces) add(piece.first);
  return vocab;
}

std::vector<std::string> search_count_threshold(
    const WordCounts& counts, const WordpieceLearnerOptions& options,
    const std::function<std::vector<std::string>(int64_t)>& learn_with_thresh) {
  if (counts.empty()) throw DataError("cannot learn a WordPiece vocabulary from an empty corpus");
  int64_t max_count = 0;
  int64_t min_count = INT64_MAX;
  for (const auto& entry : counts) {
    max_count = std::max(max_count, entry.second);
    min_count = std::min(min_count, entry.second);
  }
  // tf-text's get_search_threshs clips the bounds to the counts seen.
  int64_t upper = std::min(max_count, options.upper_thresh);
  int64_t lower = std::max(min_count, options.lower_thresh);
  const double slack = std::max(0.0, options.slack_ratio * static_cast<double>(options.vocab_size));
  for (;;) {
    const int64_t thresh = (upper + lower) / 2;
    std::vector<std::string> vocab = learn_with_thresh(thresh);
    const int64_t size = static_cast<int64_t>(vocab.size());
    const bool within_slack =
        size <= options.vocab_size && static_cast<double>(options.vocab_size - size) <= slack;
    if (within_slack || lower >= upper || thresh <= 1) return vocab;
    if (size > options.vocab_size)
      lower = thresh + 1;
    else
      upper = thresh - 1;
  }
}

WordCounts count_bert_words(const std::vector<std::string>& lines) {
  WordCounts counts;
  std::vector<std::string> words;
  for (const std::string& line : lines) {
    bert_split_words(line, words);
    for (const std::string& word : words) ++counts[word];
  }
  return counts;
}

}  // namespace bcqnmt

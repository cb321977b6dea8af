// A line-by-line port of tf-text's wordpiece_tokenizer_learner_lib.py (learn_with_thresh,
// get_split_indices): string-keyed hash maps per substring length, as the Python keeps
// dicts. wordpiece_learner.cpp is the fast version; tests compare the two.
#include <unicode/utf8.h>

#include "data/string_hash.h"
#include "data/wordpiece_learner.h"
#include "data/wordpiece_learner_input.h"

namespace bcqnmt {

namespace {

using TokenCounts = StringMap<int64_t>;
// Substring counts bucketed by length in characters (the joiner not counted).
using SubtokenCounts = std::vector<TokenCounts>;

// Greedy longest-match piece ends of `word` under `tokens`; empty if it cannot be covered.
std::vector<int32_t> split_indices(const LearnerWord& word, const TokenCounts& tokens, const std::string& joiner) {
  std::vector<int32_t> ends;
  std::string piece;
  for (int32_t start = 0; start < word.length();) {
    int32_t end = word.length();
    for (; end > start; --end) {
      piece.assign(start > 0 ? joiner : std::string());
      piece.append(word.chars(start, end));
      if (tokens.count(piece) != 0) break;
    }
    if (end == start) return {};
    ends.push_back(end);
    start = end;
  }
  return ends;
}

// Counts the substrings of every word that start at 0 or at a piece boundary under
// `tokens` (every character boundary when `tokens` is null, i.e. in round 0).
SubtokenCounts count_subtokens(const std::vector<LearnerWord>& words, const TokenCounts* tokens,
                               const WordpieceLearnerOptions& options) {
  SubtokenCounts subtokens(options.max_token_length + 1);
  std::string key;
  for (const LearnerWord& word : words) {
    std::vector<int32_t> starts;
    if (tokens == nullptr) {
      for (int32_t i = 0; i < word.length(); ++i) starts.push_back(i);
    } else {
      const std::vector<int32_t> ends = split_indices(word, *tokens, options.joiner);
      if (ends.empty()) continue;
      starts.push_back(0);
      starts.insert(starts.end(), ends.begin(), ends.end() - 1);
    }
    for (int32_t start : starts) {
      for (int32_t end = start + 1; end <= word.length(); ++end) {
        key.assign(start > 0 ? options.joiner : std::string());
        key.append(word.chars(start, end));
        subtokens[end - start][key] += word.count;
      }
    }
  }
  return subtokens;
}

// Keeps pieces with count >= thresh, longest first, each piece's count taken off its
// prefixes.
TokenCounts select_tokens(SubtokenCounts& subtokens, int64_t thresh) {
  TokenCounts selected;
  for (int32_t length = static_cast<int32_t>(subtokens.size()) - 1; length > 0; --length) {
    for (const auto& [token, count] : subtokens[length]) {
      if (count >= thresh) selected[token] = count;
      // A "##" piece has more characters than its length bucket; its prefixes keep the joiner.
      const std::vector<int32_t> offsets = char_offsets(token);
      const int32_t joiner_chars = static_cast<int32_t>(offsets.size()) - 1 - length;
      for (int32_t k = 1; k < length; ++k) {
        auto it = subtokens[k].find(std::string_view(token).substr(0, offsets[joiner_chars + k]));
        if (it != subtokens[k].end()) it->second -= count;
      }
    }
  }
  return selected;
}

void ensure_all_chars(const std::set<std::string>& chars, const std::string& joiner, TokenCounts& tokens) {
  for (const std::string& c : chars) {
    tokens.emplace(c, 1);
    tokens.emplace(joiner + c, 1);
  }
}

}  // namespace

std::vector<std::string> learn_wordpiece_vocabulary_reference(const WordCounts& counts,
                                                              const WordpieceLearnerOptions& options) {
  const LearnerInput input = prepare_learner_input(counts, options);
  return search_count_threshold(counts, options, [&](int64_t thresh) {
    TokenCounts tokens;
    ensure_all_chars(input.chars, options.joiner, tokens);
    for (int round = 0; round < options.num_iterations; ++round) {
      SubtokenCounts subtokens = count_subtokens(input.words, round == 0 ? nullptr : &tokens, options);
      tokens = select_tokens(subtokens, thresh);
      ensure_all_chars(input.chars, options.joiner, tokens);
    }
    return final_vocabulary(options, input.chars, {tokens.begin(), tokens.end()});
  });
}

}  // namespace bcqnmt

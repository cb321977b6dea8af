#include "data/wordpiece_learner.h"

#include <algorithm>

#include "data/string_hash.h"
#include "data/wordpiece_learner_input.h"

namespace bcqnmt {

namespace {

// tf-text's learner keeps one string-keyed dict per substring length and rebuilds them in
// every round of every threshold tried. Here every substring of every word (with "##" when
// it does not start the word) gets an integer id once; a round is then a pass over integer
// arrays. Two facts make that exact:
//  - the counted substrings of a word at one start are all its prefixes word[start:end],
//    so every prefix of a counted piece is counted too;
//  - taking a kept piece's count off all its prefixes, longest first, equals passing a
//    running total down the prefix chain (`pending` below).
class FastLearner {
 public:
  FastLearner(const LearnerInput& input, const WordpieceLearnerOptions& options)
      : input_(input), options_(options) {
    StringMap<int32_t> index;
    std::string key;
    auto intern = [&](int32_t length, int32_t prefix) {
      auto [it, added] = index.try_emplace(key, static_cast<int32_t>(text_.size()));
      if (added) {
        text_.push_back(key);
        length_.push_back(length);
        prefix_.push_back(prefix);
      }
      return it->second;
    };
    for (const LearnerWord& word : input_.words) {
      const int32_t n = word.length();
      word_offset_.push_back(ids_.size());
      for (int32_t start = 0; start < n; ++start) {
        int32_t prefix = -1;
        for (int32_t end = start + 1; end <= n; ++end) {
          key.assign(start > 0 ? options_.joiner : std::string());
          key.append(word.chars(start, end));
          prefix = intern(end - start, prefix);
          ids_.push_back(prefix);
        }
      }
    }
    for (const std::string& c : input_.chars) {
      key = c;
      char_ids_.push_back(intern(1, -1));
      key = options_.joiner + c;
      char_ids_.push_back(intern(1, -1));
    }
    longest_first_.resize(text_.size());
    for (int32_t id = 0; id < static_cast<int32_t>(text_.size()); ++id) longest_first_[id] = id;
    std::stable_sort(longest_first_.begin(), longest_first_.end(),
                     [&](int32_t a, int32_t b) { return length_[a] > length_[b]; });
    count_substrings(nullptr, first_round_counts_, first_round_present_);
  }

  std::vector<std::string> learn_with_thresh(int64_t thresh) const {
    const size_t n = text_.size();
    std::vector<uint8_t> in_vocab(n, 0);
    std::vector<int64_t> kept_count(n, 0);
    for (int32_t id : char_ids_) in_vocab[id] = 1;
    std::vector<int64_t> counts;
    std::vector<uint8_t> present;
    for (int round = 0; round < options_.num_iterations; ++round) {
      if (round == 0) {
        counts = first_round_counts_;
        present = first_round_present_;
      } else {
        count_substrings(&in_vocab, counts, present);
      }
      std::fill(in_vocab.begin(), in_vocab.end(), 0);
      std::vector<int64_t> pending(n, 0);  // counts of kept longer pieces, owed by this prefix
      for (int32_t id : longest_first_) {
        if (!present[id]) continue;
        const int64_t count = counts[id] - pending[id];
        if (count >= thresh) {
          in_vocab[id] = 1;
          kept_count[id] = count;
        }
        if (prefix_[id] >= 0) pending[prefix_[id]] += pending[id] + count;
      }
      for (int32_t id : char_ids_) {
        if (!in_vocab[id]) kept_count[id] = 1;
        in_vocab[id] = 1;
      }
    }
    std::vector<std::pair<std::string, int64_t>> pieces;
    for (size_t id = 0; id < n; ++id)
      if (in_vocab[id]) pieces.emplace_back(text_[id], kept_count[id]);
    return final_vocabulary(options_, input_.chars, std::move(pieces));
  }

 private:
  int32_t substring_id(size_t word, int32_t start, int32_t end) const {
    const int64_t n = input_.words[word].length();
    const int64_t row = start * n - static_cast<int64_t>(start) * (start - 1) / 2;  // ends start+1..n
    return ids_[word_offset_[word] + row + (end - start - 1)];
  }

  // Round 0 (in_vocab null): every substring. Later rounds: substrings starting at 0 or at
  // an end of the greedy longest-match split under in_vocab; words it cannot cover skipped.
  void count_substrings(const std::vector<uint8_t>* in_vocab, std::vector<int64_t>& counts,
                        std::vector<uint8_t>& present) const {
    counts.assign(text_.size(), 0);
    present.assign(text_.size(), 0);
    std::vector<int32_t> starts;
    for (size_t w = 0; w < input_.words.size(); ++w) {
      const int32_t n = input_.words[w].length();
      starts.clear();
      if (in_vocab == nullptr) {
        for (int32_t start = 0; start < n; ++start) starts.push_back(start);
      } else {
        for (int32_t start = 0; start < n;) {
          int32_t end = n;
          while (end > start && !(*in_vocab)[substring_id(w, start, end)]) --end;
          if (end == start) {
            starts.clear();
            break;
          }
          starts.push_back(start);
          start = end;
        }
      }
      for (int32_t start : starts) {
        for (int32_t end = start + 1; end <= n; ++end) {
          const int32_t id = substring_id(w, start, end);
          counts[id] += input_.words[w].count;
          present[id] = 1;
        }
      }
    }
  }

  const LearnerInput& input_;
  const WordpieceLearnerOptions& options_;
  std::vector<std::string> text_;    // id -> piece, "##"-prefixed when not word-initial
  std::vector<int32_t> length_;      // id -> characters, joiner not counted
  std::vector<int32_t> prefix_;      // id -> id of the piece one character shorter, or -1
  std::vector<int32_t> ids_;         // per word, per start, per end: the substring's id
  std::vector<size_t> word_offset_;  // word -> its first entry in ids_
  std::vector<int32_t> char_ids_;    // every character, bare and "##"-prefixed
  std::vector<int32_t> longest_first_;
  std::vector<int64_t> first_round_counts_;
  std::vector<uint8_t> first_round_present_;
};

}  // namespace

std::vector<std::string> learn_wordpiece_vocabulary(const WordCounts& counts, const WordpieceLearnerOptions& options) {
  const LearnerInput input = prepare_learner_input(counts, options);
  const FastLearner learner(input, options);
  return search_count_threshold(counts, options, [&](int64_t thresh) { return learner.learn_with_thresh(thresh); });
}

}  // namespace bcqnmt

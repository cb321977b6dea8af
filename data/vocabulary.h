#pragma once
// A WordPiece vocabulary: the token list (one token a line on disk), the encoder from text
// to ids and the decoder back to text in the corpus's conventions.
//
// Ids 0-3 are always [PAD] [UNK] [START] [END]. Continuation pieces carry "##".
// encode: bert_split_words, then per word greedy longest-match-first (BERT's
//   WordpieceTokenizer); a word that cannot be covered, or is longer than 100 characters,
//   becomes one [UNK]. No [START]/[END] are added (the batchers add them).
// decode: drop [PAD] [START] [END], glue "##" pieces to the piece before, then
//   moses_detokenize. [UNK] stays visible, as in the reference tutorial's cleanup_text.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_ids.h"
#include "data/string_hash.h"
#include "data/wordpiece_learner.h"

namespace bcqnmt {

class Vocabulary {
 public:
  static constexpr int32_t kMaxWordChars = 100;

  Vocabulary() = default;
  // Throws DataError unless the list starts with [PAD] [UNK] [START] [END] and has no
  // duplicate or empty token.
  explicit Vocabulary(std::vector<std::string> tokens);

  static Vocabulary learn(const std::vector<std::string>& lines, const WordpieceLearnerOptions& options = {});
  static Vocabulary load(const std::string& path);
  // Atomic: temp file, fsync, rename (core/atomic_file.h).
  void save(const std::string& path) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }
  int32_t id_of(std::string_view token) const;  // kUnkId when absent
  const std::string& token_of(int32_t id) const;  // DataError when out of range

  std::vector<int32_t> encode(std::string_view text) const;
  // Appends the ids of `text` to `ids`; `words` is scratch space reused across calls.
  void encode(std::string_view text, std::vector<int32_t>& ids, std::vector<std::string>& words) const;
  // Ids -> words: reserved tokens other than [UNK] dropped, "##" pieces glued.
  std::vector<std::string> decode_words(const std::vector<int32_t>& ids) const;
  std::string decode(const std::vector<int32_t>& ids) const;

  // FNV-1a 64 over the tokens, each followed by '\n' (i.e. over the file's bytes): a
  // checkpoint stores it to notice a different vocabulary.
  uint64_t fingerprint() const;

 private:
  using TokenIds = StringMap<int32_t>;

  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

  std::vector<std::string> tokens_;
  TokenIds word_start_;    // pieces that may begin a word
  TokenIds continuation_;  // "##" pieces, keyed without the "##"
  size_t longest_piece_ = 0;  // bytes
};

}  // namespace bcqnmt

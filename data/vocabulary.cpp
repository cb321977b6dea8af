#include "data/vocabulary.h"

#include <unicode/utf8.h>

#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/quoted_text.h"
#include "data/bert_normalizer.h"
#include "data/data_error.h"
#include "data/moses_detokenizer.h"

namespace bcqnmt {

namespace {

constexpr std::string_view kJoiner = "##";
const char* const kReserved[] = {"[PAD]", "[UNK]", "[START]", "[END]"};

int32_t count_chars(std::string_view word) {
  int32_t chars = 0;
  for (char c : word) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return chars;
}

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (int32_t id = 0; id < 4; ++id)
    if (size() <= id || tokens_[id] != kReserved[id])
      throw DataError("vocabulary must start with [PAD] [UNK] [START] [END]; entry " + std::to_string(id) +
                      (size() <= id ? " is missing" : " is '" + quoted_text(tokens_[id]) + "'"));
  for (int32_t id = 0; id < size(); ++id) {
    const std::string& token = tokens_[id];
    const bool continuation = token.size() > kJoiner.size() && token.compare(0, kJoiner.size(), kJoiner) == 0;
    if (token.empty() || (token.size() == kJoiner.size() && token == kJoiner))
      throw DataError("vocabulary entry " + std::to_string(id) + " is empty or only the joiner ##");
    TokenIds& map = continuation ? continuation_ : word_start_;
    const std::string key = continuation ? token.substr(kJoiner.size()) : token;
    if (!map.emplace(key, id).second)
      throw DataError("vocabulary entry " + std::to_string(id) + " '" + quoted_text(token) + "' is a duplicate");
    longest_piece_ = std::max(longest_piece_, key.size());
  }
}

Vocabulary Vocabulary::learn(const std::vector<std::string>& lines, const WordpieceLearnerOptions& options) {
  return Vocabulary(learn_wordpiece_vocabulary(count_bert_words(lines), options));
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("vocabulary file " + path + " is missing or unreadable");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  try {
    return Vocabulary(std::move(tokens));
  } catch (const DataError& e) {
    throw DataError("vocabulary file " + path + ": " + e.what());
  }
}

void Vocabulary::save(const std::string& path) const {
  std::string bytes;
  for (const std::string& token : tokens_) bytes += token + '\n';
  try {
    write_file_atomically(path, bytes);
  } catch (const CoreError& e) {
    throw DataError(e.what());
  }
}

int32_t Vocabulary::id_of(std::string_view token) const {
  if (token.size() > kJoiner.size() && token.substr(0, kJoiner.size()) == kJoiner) {
    auto it = continuation_.find(token.substr(kJoiner.size()));
    return it == continuation_.end() ? kUnkId : it->second;
  }
  auto it = word_start_.find(token);
  return it == word_start_.end() ? kUnkId : it->second;
}

const std::string& Vocabulary::token_of(int32_t id) const {
  if (id < 0 || id >= size())
    throw DataError("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(size()));
  return tokens_[id];
}

// BERT WordpieceTokenizer: at each position take the longest piece in the vocabulary
// (only whole UTF-8 characters), else the whole word is [UNK].
void Vocabulary::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  if (count_chars(word) > kMaxWordChars) {
    ids.push_back(kUnkId);
    return;
  }
  const size_t first = ids.size();
  const auto* bytes = reinterpret_cast<const uint8_t*>(word.data());
  for (size_t start = 0; start < word.size();) {
    const TokenIds& pieces = start == 0 ? word_start_ : continuation_;
    size_t end = std::min(word.size(), start + longest_piece_);
    int32_t id = -1;
    while (end > start) {
      if (end < word.size()) {
        int32_t boundary = static_cast<int32_t>(end);
        U8_SET_CP_START(bytes, static_cast<int32_t>(start), boundary);
        end = static_cast<size_t>(boundary);
        if (end == start) break;
      }
      auto it = pieces.find(word.substr(start, end - start));
      if (it != pieces.end()) {
        id = it->second;
        break;
      }
      --end;
    }
    if (id < 0) {
      ids.resize(first);
      ids.push_back(kUnkId);
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

void Vocabulary::encode(std::string_view text, std::vector<int32_t>& ids, std::vector<std::string>& words) const {
  bert_split_words(text, words);
  for (const std::string& word : words) encode_word(word, ids);
}

std::vector<int32_t> Vocabulary::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  std::vector<std::string> words;
  encode(text, ids, words);
  return ids;
}

std::vector<std::string> Vocabulary::decode_words(const std::vector<int32_t>& ids) const {
  std::vector<std::string> words;
  for (int32_t id : ids) {
    if (id == kPadId || id == kStartId || id == kEndId) continue;
    const std::string& token = token_of(id);
    const bool continuation = token.size() > kJoiner.size() && token.compare(0, kJoiner.size(), kJoiner) == 0;
    if (continuation && !words.empty())
      words.back().append(token, kJoiner.size());
    else
      words.push_back(continuation ? token.substr(kJoiner.size()) : token);
  }
  return words;
}

std::string Vocabulary::decode(const std::vector<int32_t>& ids) const { return moses_detokenize(decode_words(ids)); }

uint64_t Vocabulary::fingerprint() const {
  uint64_t hash = 0xCBF29CE484222325ull;
  auto mix = [&](unsigned char byte) {
    hash ^= byte;
    hash *= 0x100000001B3ull;
  };
  for (const std::string& token : tokens_) {
    for (char c : token) mix(static_cast<unsigned char>(c));
    mix('\n');
  }
  return hash;
}

}  // namespace bcqnmt

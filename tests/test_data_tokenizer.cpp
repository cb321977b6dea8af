// Normaliser, WordPiece learner (fast vs reference port), Vocabulary and the Moses
// detokenizer; with the real corpus present, the acceptance figures of the tokenizer.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "core/random.h"
#include "data/bert_normalizer.h"
#include "data/corpus.h"
#include "data/data_error.h"
#include "data/moses_detokenizer.h"
#include "data/vocabulary.h"
#include "data/wordpiece_learner.h"
#include "test_data_files.h"

using namespace bcqnmt;
using bcqnmt::test::ScratchDir;
using Words = std::vector<std::string>;

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Made-up sentences over a small lexicon with shared stems and suffixes, so that the
// learner has pieces to find.
std::vector<std::string> synthetic_lines(int count, uint64_t seed) {
  const Words stems = {"play", "work", "read", "walk", "talk", "think", "build", "learn", "teach", "open"};
  const Words suffixes = {"", "", "s", "ed", "ing", "er", "ers", "able"};
  const Words glue = {"the", "a", "we", "they", "and", "of", ",", ".", "?", "it 's", "do n't"};
  Rng rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < count; ++i) {
    std::string line;
    const int words = 3 + static_cast<int>(rng.below(12));
    for (int w = 0; w < words; ++w) {
      if (!line.empty()) line += ' ';
      if (rng.below(3) == 0)
        line += glue[rng.below(glue.size())];
      else
        line += stems[rng.below(stems.size())] + suffixes[rng.below(suffixes.size())];
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("normaliser: lower case, punctuation split, whitespace") {
  CHECK(bert_split_words("Hello, World!  It's\tDONE.") ==
        Words{"hello", ",", "world", "!", "it", "'", "s", "done", "."});
  CHECK(bert_split_words("do n't `` quote '' $5 #1 a+b") ==
        Words{"do", "n", "'", "t", "`", "`", "quote", "'", "'", "$", "5", "#", "1", "a", "+", "b"});
  CHECK(bert_split_words("   ").empty());
  CHECK(bert_split_words("a\x01z\x7f") == Words{"az"});  // ASCII controls dropped, no split
}

TEST_CASE("normaliser: accents, Unicode punctuation, controls, CJK, compatibility forms") {
  CHECK(bert_split_words("Ação É ÓTIMA, não?") == Words{"acao", "e", "otima", ",", "nao", "?"});
  CHECK(bert_split_words("¿Qué — “sí”…") == Words{"¿", "que", "—", "“", "si", "”", ".", ".", "."});  // NFKC: … = ...
  CHECK(bert_split_words("a\u00A0b\u2028c") == Words{"a", "b", "c"});         // Zs, Zl split
  CHECK(bert_split_words("zero\u200Bwidth\u0085x") == Words{"zerowidthx"});  // Cf, Cc dropped
  CHECK(bert_split_words("中文ok") == Words{"中", "文", "ok"});
  CHECK(bert_split_words("ﬁne ＡＢＣ Straße") == Words{"fine", "abc", "strasse"});  // NFKC_Casefold
  CHECK(bert_is_punctuation(U'$'));
  CHECK(bert_is_punctuation(U'—'));
  CHECK_FALSE(bert_is_punctuation(U'€'));  // Sc, not P*: BERT leaves it in words
  CHECK(bert_normalize_characters("Olá,\u0001 MUNDO") == "ola, mundo");
}

TEST_CASE("normaliser: the ASCII fast path equals the ICU path on random ASCII") {
  Rng rng(42);
  std::vector<std::string> icu;
  for (int i = 0; i < 2000; ++i) {
    std::string line;
    const int n = static_cast<int>(rng.below(60));
    for (int j = 0; j < n; ++j) line += static_cast<char>(rng.below(128));
    bert_split_words_unicode(line, icu);
    REQUIRE(bert_split_words(line) == icu);
  }
}

TEST_CASE("vocabulary: greedy longest-match-first, [UNK], reserved ids") {
  // google-research/bert tokenization.py, WordpieceTokenizer docstring:
  // "unaffable" -> ["un", "##aff", "##able"].
  const Vocabulary vocab({"[PAD]", "[UNK]", "[START]", "[END]", "un", "##aff", "##able", "a", "ab", "##a", "##c",
                          "##bc", ",", "c", "##ç"});
  CHECK(vocab.size() == 15);
  CHECK(vocab.encode("unaffable") == std::vector<int32_t>{4, 5, 6});
  CHECK(vocab.encode("abc") == std::vector<int32_t>{8, 10});  // longest first: ab + ##c
  CHECK(vocab.encode("unzip, a") == std::vector<int32_t>{kUnkId, 12, 7});
  CHECK(vocab.encode("ÇAÇ") == std::vector<int32_t>{13, 9, 10});  // accents stripped first
  CHECK(vocab.encode(std::string(100, 'a')).size() == 100);
  CHECK(vocab.encode(std::string(101, 'a')) == std::vector<int32_t>{kUnkId});
  CHECK(vocab.id_of("##aff") == 5);
  CHECK(vocab.id_of("aff") == kUnkId);
  CHECK(vocab.token_of(6) == "##able");
  CHECK_THROWS_AS(vocab.token_of(15), DataError);
  CHECK(vocab.decode_words({2, 4, 5, 6, 1, 12, 7, 3, 0, 0}) == Words{"unaffable", "[UNK]", ",", "a"});
  CHECK(vocab.decode({2, 4, 5, 6, 12, 7, 3}) == "unaffable , a");
}

TEST_CASE("vocabulary: bad token lists are refused") {
  CHECK_THROWS_AS(Vocabulary({"[UNK]", "[PAD]", "[START]", "[END]"}), DataError);
  CHECK_THROWS_AS(Vocabulary({"[PAD]", "[UNK]", "[START]"}), DataError);
  CHECK_THROWS_AS(Vocabulary({"[PAD]", "[UNK]", "[START]", "[END]", "a", "a"}), DataError);
  CHECK_THROWS_AS(Vocabulary({"[PAD]", "[UNK]", "[START]", "[END]", ""}), DataError);
  CHECK_THROWS_AS(Vocabulary::load("/nonexistent/vocab.txt"), DataError);
}

TEST_CASE("vocabulary: save/load round trip, one token a line, fingerprint = FNV-1a of the file") {
  ScratchDir dir;
  const Vocabulary vocab({"[PAD]", "[UNK]", "[START]", "[END]", "olá", "##s", "."});
  const auto path = dir.path / "vocab.txt";
  vocab.save(path.string());
  const std::string bytes = read_bytes(path);
  CHECK(bytes == "[PAD]\n[UNK]\n[START]\n[END]\nolá\n##s\n.\n");
  uint64_t fnv = 0xCBF29CE484222325ull;  // FNV-1a 64, offset basis and prime from the spec
  for (unsigned char c : bytes) fnv = (fnv ^ c) * 0x100000001B3ull;
  CHECK(vocab.fingerprint() == fnv);
  const Vocabulary loaded = Vocabulary::load(path.string());
  CHECK(loaded.tokens() == vocab.tokens());
  CHECK(loaded.fingerprint() == vocab.fingerprint());
  CHECK(Vocabulary({"[PAD]", "[UNK]", "[START]", "[END]", "ola", "##s", "."}).fingerprint() != vocab.fingerprint());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) files += entry.is_regular_file();
  CHECK(files == 1);  // no temporary file left behind
}

TEST_CASE("Moses detokenizer restores the corpus conventions (made-up sentences)") {
  const std::vector<std::string> lines = {
      "it 's a long-term plan , do n't you think ?",
      "`` i 'm here , '' she said , `` and they 've left . ''",
      "they 're worth 10,000 dollars or 1.5 million — or 9/11 ...",
      "mr. smith went to the u.s. last year , she 'd say .",
      "we met in the '80s at 7 o'clock in l'aquila .",
      "the students ' books are on ted.com , etc. , and so on .",
      "he lives in the u.k .",
      "john f. kennedy 'll be there ; we 'll see ( maybe ) !",
  };
  for (const std::string& line : lines) CHECK(moses_detokenize(bert_split_words(line)) == line);
  CHECK(moses_detokenize({}).empty());
}

TEST_CASE("WordPiece learner: the fast version equals the reference port; determinism") {
  const WordCounts counts = count_bert_words(synthetic_lines(3000, 7));
  for (int64_t size : {30, 60, 120, 400}) {
    WordpieceLearnerOptions options;
    options.vocab_size = size;
    options.lower_thresh = 1;
    const std::vector<std::string> fast = learn_wordpiece_vocabulary(counts, options);
    CHECK(fast == learn_wordpiece_vocabulary_reference(counts, options));
    CHECK(fast == learn_wordpiece_vocabulary(counts, options));
    REQUIRE(fast.size() > 4);
    CHECK(std::vector<std::string>(fast.begin(), fast.begin() + 4) ==
          std::vector<std::string>{"[PAD]", "[UNK]", "[START]", "[END]"});
    MESSAGE("target " << size << ": " << fast.size() << " tokens");
  }
  WordpieceLearnerOptions options;
  options.vocab_size = 120;
  options.lower_thresh = 1;
  const Vocabulary vocab(learn_wordpiece_vocabulary(counts, options));
  CHECK(vocab.id_of("##ing") != kUnkId);
  CHECK(vocab.id_of("play") != kUnkId);
  // Every character of the training words is a token, alone and as "##": nothing seen is [UNK].
  for (const std::string& line : synthetic_lines(200, 99))
    for (int32_t id : vocab.encode(line)) CHECK(id != kUnkId);
  CHECK_THROWS_AS(learn_wordpiece_vocabulary({}, options), DataError);
}

// ---- The real corpus (skipped when absent) ---------------------------------------------

namespace {

struct RealVocabularies {
  ParallelText train, test;
  Vocabulary pt, en;
  double pt_seconds = 0, en_seconds = 0;
};

// Learned once per test binary and shared by the test cases below.
const RealVocabularies* real_vocabularies() {
  static const std::unique_ptr<RealVocabularies> cached = []() -> std::unique_ptr<RealVocabularies> {
    const std::string dir = bcqnmt::test::real_corpus_dir();
    if (dir.empty()) return nullptr;
    auto v = std::make_unique<RealVocabularies>();
    v->train = load_split(dir, Split::kTrain);
    v->test = load_split(dir, Split::kTest);
    auto timed = [](const std::vector<std::string>& lines, double& seconds) {
      const auto start = std::chrono::steady_clock::now();
      Vocabulary vocab = Vocabulary::learn(lines);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return vocab;
    };
    v->pt = timed(v->train.source, v->pt_seconds);
    v->en = timed(v->train.target, v->en_seconds);
    return v;
  }();
  if (!cached) MESSAGE("real corpus absent (../shared/data/ted_hrlr_pt_to_en or BCQNMT_DATA): skipped");
  return cached.get();
}

// 60 bytes of `a` around the first byte where it differs from `b`.
std::string around_first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const size_t begin = i < 30 ? 0 : i - 30;
  return "..." + a.substr(begin, 60) + "...";
}

}  // namespace

TEST_CASE("real corpus: learned vocabularies match the reference sizes, fast and deterministic") {
  const RealVocabularies* v = real_vocabularies();
  if (v == nullptr) return;
  MESSAGE("pt " << v->pt.size() << " tokens in " << v->pt_seconds << " s, en " << v->en.size() << " tokens in "
                << v->en_seconds << " s");
  // docs/reference.md §3: tf-text's learner gave the reference pt 7,765 / en 7,010 entries.
  CHECK(v->pt.size() == 7765);
  CHECK(v->en.size() == 7010);
  CHECK(v->pt_seconds < 60);
  CHECK(v->en_seconds < 60);
  ScratchDir dir;
  v->en.save((dir.path / "a.txt").string());
  Vocabulary::learn(v->train.target).save((dir.path / "b.txt").string());
  CHECK(read_bytes(dir.path / "a.txt") == read_bytes(dir.path / "b.txt"));
}

TEST_CASE("real corpus: the fast learner equals the reference port on 5,000 train.en lines") {
  const RealVocabularies* v = real_vocabularies();
  if (v == nullptr) return;
  const WordCounts counts =
      count_bert_words(std::vector<std::string>(v->train.target.begin(), v->train.target.begin() + 5000));
  WordpieceLearnerOptions options;
  options.vocab_size = 2000;
  CHECK(learn_wordpiece_vocabulary(counts, options) == learn_wordpiece_vocabulary_reference(counts, options));
}

TEST_CASE("real corpus: [UNK] rate on test < 0.5%, round trip on test.en >= 99%") {
  const RealVocabularies* v = real_vocabularies();
  if (v == nullptr) return;
  for (int side = 0; side < 2; ++side) {
    const Vocabulary& vocab = side == 0 ? v->pt : v->en;
    const std::vector<std::string>& lines = side == 0 ? v->test.source : v->test.target;
    int64_t tokens = 0, unknown = 0;
    for (const std::string& line : lines)
      for (int32_t id : vocab.encode(line)) {
        ++tokens;
        unknown += id == kUnkId;
      }
    MESSAGE((side == 0 ? "test.pt" : "test.en") << ": " << unknown << " [UNK] of " << tokens << " tokens");
    CHECK(static_cast<double>(unknown) < 0.005 * static_cast<double>(tokens));
  }
  int64_t exact = 0;
  std::vector<std::string> icu;
  std::ostringstream failures;
  for (const std::string& line : v->test.target) {
    bert_split_words_unicode(line, icu);
    CHECK(bert_split_words(line) == icu);
    const std::string back = v->en.decode(v->en.encode(line));
    if (back == bert_normalize_characters(line))
      ++exact;
    else if (failures.tellp() < 1000)
      failures << "\n  corpus: " << around_first_difference(line, back) << "\n  decode: "
               << around_first_difference(back, line);
  }
  const double rate = static_cast<double>(exact) / static_cast<double>(v->test.target.size());
  MESSAGE("round trip exact on " << exact << " of " << v->test.target.size() << " test.en lines (" << 100 * rate
                                 << "%); first failures:" << failures.str());
  CHECK(rate >= 0.99);
}

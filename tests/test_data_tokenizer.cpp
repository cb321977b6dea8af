// Normaliser, WordPiece learner (fast vs reference port), Vocabulary and the Moses
// detokenizer; with the real corpus present, the acceptance figures of the tokenizer.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

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
  // Controls are spaces (tf-text's \p{Cc} -> " "), not deleted: form feed no longer glues
  // "muito<FF>obrigado" into one word (tensorflow/text#817).
  CHECK(bert_split_words("a\x01z\x7f") == Words{"a", "z"});
  CHECK(bert_split_words("muito\fobrigado\x0Bsim\x1F!") == Words{"muito", "obrigado", "sim", "!"});
}

TEST_CASE("normaliser: accents, Unicode punctuation, controls, CJK, compatibility forms") {
  CHECK(bert_split_words("Ação É ÓTIMA, não?") == Words{"acao", "e", "otima", ",", "nao", "?"});
  CHECK(bert_split_words("¿Qué — “sí”…") == Words{"¿", "que", "—", "“", "si", "”", ".", ".", "."});  // NFKC: … = ...
  CHECK(bert_split_words("a\u00A0b\u2028c") == Words{"a", "b\u2028c"});  // NBSP is NFKC U+0020; Zl is no \s
  CHECK(bert_split_words("zero\u200Bwidth\u0085x") == Words{"zerowidth", "x"});  // NFKC drops ZWSP; Cc = space
  CHECK(bert_split_words("中文ok") == Words{"中", "文", "ok"});
  CHECK(bert_split_words("ﬁne ＡＢＣ Straße") == Words{"fine", "abc", "strasse"});  // NFKC_Casefold
  CHECK(bert_is_punctuation(U'$'));
  CHECK(bert_is_punctuation(U'—'));
  CHECK_FALSE(bert_is_punctuation(U'€'));  // Sc, not P*: BERT leaves it in words
  CHECK(bert_normalize_characters("Olá,\u0001 MUNDO") == "ola,  mundo");
}

// One row per Unicode general category (ICU's u_charType numbering): a character of it
// between "a" and "b", and the words tf-text's BertTokenizer(lower_case=True) gives, worked
// out by hand from its steps (tensorflow/text bert_tokenizer.py): NFKC_Casefold, NFD, drop
// \p{Mn}, \p{Cc}|\p{Cf} -> " ", split on RE2's \s = [\t\n\f\r ] and keep ASCII
// punctuation, \p{P} and CJK ideographs as words. Surrogates (Cs) cannot occur in valid
// UTF-8, which the corpus loader and translate guarantee (data/utf8.h).
struct CategoryCase {
  UCharCategory category;
  const char* character;
  Words words;
};

TEST_CASE("normaliser: every Unicode general category as tf-text's BertTokenizer") {
  const std::vector<CategoryCase> cases = {
      {U_UNASSIGNED, "\u0378", {"a\u0378b"}},
      {U_UPPERCASE_LETTER, "\u00C9", {"aeb"}},         // É: fold, NFD, accent (Mn) dropped
      {U_LOWERCASE_LETTER, "\u014B", {"a\u014Bb"}},    // ŋ
      {U_TITLECASE_LETTER, "\u01C5", {"adzb"}},        // ǅ: NFKC_Casefold dž, NFD drops the caron
      {U_MODIFIER_LETTER, "\u02B0", {"ahb"}},          // ʰ: NFKC h
      {U_OTHER_LETTER, "\u05D0", {"a\u05D0b"}},        // א
      {U_NON_SPACING_MARK, "\u0301", {"ab"}},          // combining acute: dropped
      {U_ENCLOSING_MARK, "\u20DD", {"a\u20DDb"}},      // kept: only Mn is dropped
      {U_COMBINING_SPACING_MARK, "\u0903", {"a\u0903b"}},
      {U_DECIMAL_DIGIT_NUMBER, "\u0661", {"a\u0661b"}},
      {U_LETTER_NUMBER, "\u16EE", {"a\u16EEb"}},
      {U_OTHER_NUMBER, "\u00B2", {"a2b"}},             // ²: NFKC 2
      {U_SPACE_SEPARATOR, "\u00A0", {"a", "b"}},       // NBSP: NFKC U+0020
      {U_SPACE_SEPARATOR, "\u1680", {"a\u1680b"}},     // no NFKC mapping, not in RE2's \s
      {U_LINE_SEPARATOR, "\u2028", {"a\u2028b"}},
      {U_PARAGRAPH_SEPARATOR, "\u2029", {"a\u2029b"}},
      {U_CONTROL_CHAR, "\u0085", {"a", "b"}},          // NEL: \p{Cc} -> " "
      {U_CONTROL_CHAR, "\x0C", {"a", "b"}},            // form feed
      {U_CONTROL_CHAR, "\x01", {"a", "b"}},
      {U_FORMAT_CHAR, "\u0600", {"a", "b"}},           // Arabic number sign: \p{Cf} -> " "
      {U_FORMAT_CHAR, "\u200B", {"ab"}},               // default-ignorable: NFKC_Casefold removes it first
      {U_PRIVATE_USE_CHAR, "\uE000", {"a\uE000b"}},
      {U_DASH_PUNCTUATION, "\u2010", {"a", "\u2010", "b"}},
      {U_START_PUNCTUATION, "\u300C", {"a", "\u300C", "b"}},
      {U_END_PUNCTUATION, "\u300D", {"a", "\u300D", "b"}},
      {U_CONNECTOR_PUNCTUATION, "\u203F", {"a", "\u203F", "b"}},
      {U_OTHER_PUNCTUATION, "\u00B7", {"a", "\u00B7", "b"}},
      {U_MATH_SYMBOL, "\u00D7", {"a\u00D7b"}},         // ×: symbols stay in words ...
      {U_MATH_SYMBOL, "+", {"a", "+", "b"}},            // ... except ASCII punctuation ranges
      {U_CURRENCY_SYMBOL, "\u20AC", {"a\u20ACb"}},
      {U_MODIFIER_SYMBOL, "\u02C2", {"a\u02C2b"}},
      {U_OTHER_SYMBOL, "\u00A9", {"a\u00A9b"}},
      {U_OTHER_SYMBOL, "\uFFFD", {"a\uFFFDb"}},        // kept (Google's Python BERT dropped it)
      {U_INITIAL_PUNCTUATION, "\u00AB", {"a", "\u00AB", "b"}},
      {U_FINAL_PUNCTUATION, "\u00BB", {"a", "\u00BB", "b"}},
  };
  std::set<int> covered = {U_SURROGATE};
  for (const CategoryCase& c : cases) {
    const std::string line = std::string("a") + c.character + "b";
    CAPTURE(line);
    UChar32 cp = 0;
    int32_t i = 0;
    U8_NEXT(c.character, i, static_cast<int32_t>(std::strlen(c.character)), cp);
    CHECK(u_charType(cp) == c.category);  // the row's character is of the row's category
    CHECK(bert_split_words(line) == c.words);
    covered.insert(c.category);
  }
  CHECK(covered.size() == U_CHAR_CATEGORY_COUNT);
}

TEST_CASE("normaliser: every Cc and Cf code point NFKC_Casefold keeps is a word break") {
  int checked = 0;
  for (UChar32 cp = 0; cp <= 0x10FFFF; ++cp) {
    const int8_t category = u_charType(cp);
    if ((category != U_CONTROL_CHAR && category != U_FORMAT_CHAR) || u_hasBinaryProperty(cp, UCHAR_CHANGES_WHEN_NFKC_CASEFOLDED))
      continue;
    char utf8[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(utf8, n, cp);
    CAPTURE(cp);
    CHECK(bert_split_words("a" + std::string(utf8, n) + "b") == Words{"a", "b"});
    ++checked;
  }
  MESSAGE(checked << " Cc/Cf code points checked");
  CHECK(checked > 60);
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

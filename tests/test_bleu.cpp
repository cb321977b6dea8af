// BLEU: nltk-compatible corpus BLEU against nltk's own values, sacreBLEU-style BLEU against
// hand-derived count tables.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "data/bleu.h"
#include "data/data_error.h"

using namespace bcqnmt;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Checks every vector of a file written by Debian's python3-nltk 3.8 (its "source" field);
// a vector's lines are inline or in files named relative to `base`. Returns how many it
// checked.
int check_nltk_vectors(const fs::path& vectors_path, const fs::path& base) {
  std::ifstream in(vectors_path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << vectors_path.string());
  const nlohmann::json vectors = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& v : vectors.at("vectors")) {
    const std::string name = v.at("name");
    std::vector<std::string> refs, hyps;
    if (v.contains("references_file")) {
      const fs::path ref_file = base / v.at("references_file").get<std::string>();
      const fs::path hyp_file = base / v.at("hypotheses_file").get<std::string>();
      if (!fs::exists(ref_file) || !fs::exists(hyp_file)) {
        MESSAGE("skipped vector " << name << ": " << ref_file.string() << " not found");
        continue;
      }
      refs = read_lines(ref_file);
      hyps = read_lines(hyp_file);
    } else {
      refs = v.at("references").get<std::vector<std::string>>();
      hyps = v.at("hypotheses").get<std::vector<std::string>>();
    }
    const double expected = v.at("nltk_corpus_bleu");
    const double got = nltk_corpus_bleu(refs, hyps);
    MESSAGE(name << ": " << got << " (nltk " << expected << ", |diff| " << std::abs(got - expected) << ")");
    CHECK_MESSAGE(std::abs(got - expected) <= 1e-9, name);
    // Tiny values such as method0's 1e-154 are reproduced, not just "about 0".
    if (expected < 1e-100) CHECK_MESSAGE(std::abs(got - expected) <= 1e-9 * expected, name);
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_CASE("nltk_corpus_bleu matches nltk 3.8 corpus_bleu on the committed vectors") {
  // Made-up sentences, values from python3-nltk (scripts/fixtures/make_nltk_bleu_vectors.py).
  const fs::path fixtures = fs::path(BCQNMT_SOURCE_DIR) / "tests" / "fixtures";
  CHECK(check_nltk_vectors(fixtures / "nltk_bleu_vectors.json", fixtures) == 7);
}

TEST_CASE("nltk_corpus_bleu matches nltk 3.8 on the vectors beside the repository, when present") {
  // These quote the TED corpus (CC BY-NC-ND), so they are read from shared/, never copied.
  const fs::path shared = fs::path(BCQNMT_SOURCE_DIR) / ".." / "shared";
  const fs::path vectors_path = shared / "reference" / "bleu_vectors.json";
  if (!fs::exists(vectors_path)) {
    MESSAGE("SKIPPED: " << vectors_path.string() << " not found (it lives beside the repository)");
    return;
  }
  CHECK(check_nltk_vectors(vectors_path, shared) >= 7);
}

TEST_CASE("nltk_corpus_bleu edge cases") {
  // No unigram match at all: nltk returns exactly 0.
  CHECK(nltk_corpus_bleu({"a b c d"}, {"w x y z"}) == 0.0);
  // Empty hypothesis: every numerator is 0 -> 0.
  CHECK(nltk_corpus_bleu({"a b c d"}, {""}) == 0.0);
  CHECK_THROWS_AS(nltk_corpus_bleu({"a", "b"}, {"a"}), DataError);
}

TEST_CASE("tokenize_13a follows sacreBLEU's four regular expressions") {
  // Expected strings derived by applying sacreBLEU 2.3.1 tokenizer_13a's steps by hand (and
  // checked with Python's re on the same four patterns):
  //  - symbols { | } ~ [ \ ] ^ _ ` ! " # $ % & ( ) * + : ; < = > ? @ / are split off;
  //    apostrophes and hyphens are not;
  //  - '.' and ',' are split off unless they sit between two digits (3.14, 1,000.50 stay);
  //  - '-' after a digit is split off (3.14-5 -> 3.14 - 5; e-mail stays).
  CHECK(tokenize_13a("Hello, world! It's 3.14-5 \"ok\".") == "Hello , world ! It's 3.14 - 5 \" ok \" .");
  CHECK(tokenize_13a("AT&amp;T costs $1,000.50 (approx.)...") == "AT & T costs $ 1,000.50 ( approx . ) . . .");
  CHECK(tokenize_13a("e-mail: a/b, 1990-2000; x.y") == "e-mail : a / b , 1990 - 2000 ; x . y");
  CHECK(tokenize_13a("Olá, João... <skipped>fim.") == "Olá , João . . . fim .");
  CHECK(tokenize_13a("a&quot;b &lt;c&gt;") == "a \" b < c >");
  CHECK(tokenize_13a("  spaced\tout  ") == "spaced out");
}

TEST_CASE("sacrebleu_corpus_bleu against hand-derived count tables") {
  SUBCASE("identical sentences give 100, short lines included (unlike nltk)") {
    const auto s = sacrebleu_corpus_bleu({"The cat sat on the mat.", "Yes."}, {"The cat sat on the mat.", "Yes."});
    CHECK(s.score == doctest::Approx(100.0).epsilon(1e-12));
    CHECK(s.signature == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.3.1-compatible");
  }
  SUBCASE("one substituted word") {
    // ref "the cat sat on the mat ." / hyp "the cat sat on a mat ." (7 tokens each, BP 1)
    //   1-grams: the cat sat on mat .           match, a does not      6/7
    //   2-grams: the cat, cat sat, sat on, mat . match; on a, a mat not 4/6
    //   3-grams: the cat sat, cat sat on match; 3 others not            2/5
    //   4-grams: the cat sat on match; 3 others not                     1/4
    // BLEU = 100 (6/7 * 4/6 * 2/5 * 1/4)^(1/4) = 100 (2/35)^(1/4) = 48.8923022435
    const auto s = sacrebleu_corpus_bleu({"the cat sat on the mat."}, {"the cat sat on a mat."});
    CHECK(s.score == doctest::Approx(48.8923022435).epsilon(1e-10));
    CHECK(s.precisions[0] == doctest::Approx(600.0 / 7));
    CHECK(s.precisions[3] == doctest::Approx(25.0));
    CHECK(s.brevity_penalty == 1.0);
    CHECK(s.hypothesis_length == 7);
    CHECK(s.reference_length == 7);
    // No zero count: nltk's value is the same on the tokenized text, on the 0..1 scale.
    CHECK(nltk_corpus_bleu({"the cat sat on the mat ."}, {"the cat sat on a mat ."}) ==
          doctest::Approx(s.score / 100).epsilon(1e-12));
  }
  SUBCASE("exp smoothing of zero matches") {
    // ref "a b c d e" / hyp "a x c y e": 1-grams 3/5; 2-, 3-, 4-grams 0/4, 0/3, 0/2.
    // exp smoothing halves again at each order without matches: p2 = 100/(2*4) = 12.5,
    // p3 = 100/(4*3) = 8.3333, p4 = 100/(8*2) = 6.25; p1 = 60.
    // BLEU = (60 * 12.5 * 8.3333 * 6.25)^(1/4) = 39062.5^(1/4) = 14.0585331298
    const auto s = sacrebleu_corpus_bleu({"a b c d e"}, {"a x c y e"});
    CHECK(s.precisions[1] == doctest::Approx(12.5));
    CHECK(s.precisions[2] == doctest::Approx(100.0 / 12));
    CHECK(s.score == doctest::Approx(14.0585331298).epsilon(1e-10));
  }
  SUBCASE("brevity penalty") {
    // hyp "a b c d" is the first half of ref "a b c d e f g h": every precision 100,
    // c = 4, r = 8, BP = exp(1 - 8/4) = e^-1 -> BLEU = 100/e = 36.7879441171
    const auto s = sacrebleu_corpus_bleu({"a b c d e f g h"}, {"a b c d"});
    CHECK(s.brevity_penalty == doctest::Approx(std::exp(-1.0)));
    CHECK(s.score == doctest::Approx(36.7879441171).epsilon(1e-10));
  }
  SUBCASE("a corpus without any 4-gram scores 0, as in sacreBLEU") {
    // "a b" has no 3-gram: compute_bleu stops at the first order with no n-grams, that
    // precision stays 0 and enters as log 0 := -9999999999.
    CHECK(sacrebleu_corpus_bleu({"a b"}, {"a b"}).score == 0.0);
    CHECK(sacrebleu_corpus_bleu({"a b"}, {""}).score == 0.0);
  }
  SUBCASE("no match at any order scores 0, not the smoothed value (sacreBLEU 2.x, #141)") {
    // Without the early stop, exp smoothing would give precisions 100/(2*4), 100/(4*3),
    // 100/(8*2), 100/(16*1) and BLEU 7.99.
    const auto s = sacrebleu_corpus_bleu({"a b c d"}, {"w x y z"});
    CHECK(s.score == 0.0);
    CHECK(s.precisions[0] == 0.0);
    CHECK(s.brevity_penalty == 1.0);
    CHECK(sacrebleu_corpus_bleu({"a b c d", "e f g h"}, {"w x y z", "q r s t"}).score == 0.0);
  }
  CHECK_THROWS_AS(sacrebleu_corpus_bleu({"a"}, {}), DataError);
}

// Readable English and the way back: readable_english (detokenize_english, Moses
// detokenizer.perl's English rules, then sentence_case), and moses_tokenize_english (tokenizer.perl's English rules, with
// the corpus's departures); with the real corpus present, the round trip
// tokenized -> readable -> tokenized on test.en, its failures listed by kind.
#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include "data/corpus.h"
#include "data/moses_detokenizer.h"
#include "data/moses_tokenizer.h"
#include "data/readable_english.h"
#include "data/sentence_case.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

// The kind of the first token where `a` and `b` differ, named by its characters.
std::string difference_kind(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string s, t;
  while ((x >> s) && (y >> t) && s == t) {
  }
  const std::string& token = s == t ? (s.empty() ? t : s) : s;
  for (const auto& [mark, kind] : std::vector<std::pair<std::string, std::string>>{
           {"``", "double quote"}, {"''", "double quote"}, {"'", "apostrophe"}, {"...", "ellipsis"},
           {".", "period"},        {",", "comma"},         {"—", "dash"},       {"-", "hyphen"}})
    if (token.find(mark) != std::string::npos) return kind;
  return "other";
}

}  // namespace

TEST_CASE("readable English: clitics, quotes and punctuation joined, sentences capitalised") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"it 's a long-term plan , do n't you think ?", "It's a long-term plan, don't you think?"},
      {"`` i 'm here , '' she said . `` and they 've left . ''", "\"I'm here,\" she said. \"And they've left.\""},
      {"we ca n't pay 10,000 dollars ( or 1.5 million ) ...", "We can't pay 10,000 dollars (or 1.5 million)..."},
      {"mr. smith went to the u.s. army ; i 'd say so !", "Mr. smith went to the u.s. army; I'd say so!"},
      {"the students ' books , in the '80s , cost $ 5 : really .", "The students' books, in the '80s, cost $5: really."},
      {"derek k. miller wrote it at 7 o'clock . then he left", "Derek k. miller wrote it at 7 o'clock. Then he left"},
      {"you 'll get 'em , i think", "You'll get 'em, I think"},
  };
  for (const auto& [tokenized, text] : cases) {
    CHECK(readable_english(tokenized) == text);
    CHECK(moses_tokenize_english(text) == tokenized);
  }
  CHECK(readable_english("").empty());
  CHECK(moses_tokenize_english("").empty());
  CHECK(sentence_case("é claro. ótimo") == "É claro. Ótimo");
  CHECK(sentence_case("i.e. it works") == "I.e. it works");
}

TEST_CASE("real corpus: tokenized -> readable -> tokenized round-trips on >= 99% of test.en") {
  const std::string dir = bcqnmt::test::real_corpus_or_skip();
  if (dir.empty()) return;
  const ParallelText test = load_split(dir, Split::kTest);
  int64_t exact = 0;
  std::map<std::string, std::vector<std::string>> failures;  // kind -> lines
  for (const std::string& line : test.target) {
    const std::string text = readable_english(line);
    const std::string back = moses_tokenize_english(text);
    if (back == line) {
      ++exact;
    } else {
      failures[difference_kind(line, back)].push_back("\n    corpus: " + line + "\n    back:   " + back);
    }
  }
  std::ostringstream listing;
  for (const auto& [kind, lines] : failures) {
    listing << "\n  " << kind << ": " << lines.size() << " lines";
    for (const std::string& l : lines) listing << l;
  }
  const double rate = static_cast<double>(exact) / static_cast<double>(test.target.size());
  MESSAGE("round trip exact on " << exact << " of " << test.target.size() << " test.en lines (" << 100 * rate
                                 << "%); the others by kind:" << listing.str());
  CHECK(rate >= 0.99);
}

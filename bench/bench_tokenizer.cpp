// Tokenizer throughput on the whole TED train split (pt and en sides), one core.
// Target: >= 1 M tokens/s for encode (normalise + WordPiece). Baseline in the same run:
// the normaliser forced through ICU for every line (what the ASCII fast path saves).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "data/bert_normalizer.h"
#include "data/corpus.h"
#include "data/vocabulary.h"

namespace {

using namespace bcqnmt;

struct Corpus {
  ParallelText train;
  Vocabulary pt, en;
};

// Loaded and learned once; null when the corpus is absent.
const Corpus* corpus() {
  static const std::unique_ptr<Corpus> cached = []() -> std::unique_ptr<Corpus> {
    std::string dir;
    if (const char* env = std::getenv("BCQNMT_DATA"); env != nullptr && env[0] != '\0')
      dir = env;
    else
      dir = std::string(BCQNMT_SOURCE_DIR) + "/../shared/data/ted_hrlr_pt_to_en";
    if (!std::filesystem::exists(dir)) return nullptr;
    auto c = std::make_unique<Corpus>();
    c->train = load_split(dir, Split::kTrain);
    c->pt = Vocabulary::learn(c->train.source);
    c->en = Vocabulary::learn(c->train.target);
    return c;
  }();
  return cached.get();
}

constexpr const char* kSkip = "TED corpus absent (../shared/data/ted_hrlr_pt_to_en or BCQNMT_DATA): skipped";

void BM_EncodeTrainBothSides(benchmark::State& state) {
  const Corpus* c = corpus();
  if (c == nullptr) {
    state.SkipWithError(kSkip);
    return;
  }
  std::vector<int32_t> ids;
  std::vector<std::string> words;
  int64_t tokens = 0;
  for (auto _ : state) {
    for (int side = 0; side < 2; ++side) {
      const Vocabulary& vocab = side == 0 ? c->pt : c->en;
      for (const std::string& line : side == 0 ? c->train.source : c->train.target) {
        ids.clear();
        vocab.encode(line, ids, words);
        tokens += static_cast<int64_t>(ids.size());
      }
    }
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["lines"] = static_cast<double>(2 * c->train.size());
}

template <void (*Split)(std::string_view, std::vector<std::string>&)>
void BM_NormaliseTrainBothSides(benchmark::State& state) {
  const Corpus* c = corpus();
  if (c == nullptr) {
    state.SkipWithError(kSkip);
    return;
  }
  std::vector<std::string> words;
  int64_t count = 0;
  for (auto _ : state) {
    for (const auto* lines : {&c->train.source, &c->train.target})
      for (const std::string& line : *lines) {
        Split(line, words);
        count += static_cast<int64_t>(words.size());
      }
    benchmark::DoNotOptimize(words.data());
  }
  state.counters["words/s"] = benchmark::Counter(static_cast<double>(count), benchmark::Counter::kIsRate);
}

void split_fast(std::string_view line, std::vector<std::string>& words) { bert_split_words(line, words); }
void split_icu(std::string_view line, std::vector<std::string>& words) { bert_split_words_unicode(line, words); }

void BM_DecodeTrainEnglish(benchmark::State& state) {
  const Corpus* c = corpus();
  if (c == nullptr) {
    state.SkipWithError(kSkip);
    return;
  }
  std::vector<std::vector<int32_t>> encoded;
  for (const std::string& line : c->train.target) encoded.push_back(c->en.encode(line));
  int64_t tokens = 0;
  for (auto _ : state) {
    for (const auto& ids : encoded) {
      benchmark::DoNotOptimize(c->en.decode(ids));
      tokens += static_cast<int64_t>(ids.size());
    }
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_EncodeTrainBothSides)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NormaliseTrainBothSides<split_fast>)->Name("BM_NormaliseTrainBothSides/ascii_fast_path")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NormaliseTrainBothSides<split_icu>)->Name("BM_NormaliseTrainBothSides/icu_baseline")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeTrainEnglish)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

// Translation of a file with a trained run, as `bcqnmt translate -i FILE` does it (length-sorted
// batches through Translator, of Translator::batch_sentences by default): the test split's
// Portuguese side, fp against the run's quantized model, and beam 4 against greedy, each pair
// measured in the same run.
//   BM_TranslateFile/bcq:0|1   greedy over the file: sentences/s, output tokens/s, ms/sentence
//   BM_BeamVsGreedy/bcq:0|1    greedy, then beam 4 over the same sentences: beam4_over_greedy
//                              in wall-clock time (target <= 3, issue 17), and
//                              beam4_over_greedy_cpu in process CPU time
// A trained model is needed (an untrained one never emits [END]): BCQNMT_BENCH_RUN names a run
// directory (e.g. runs/fast), BCQNMT_BENCH_VARIANT its quantized variant (default: the first
// in quantized/ that has a model.bcq), BCQNMT_BENCH_LIMIT the first N test sentences (default:
// all 1,803), BCQNMT_BENCH_BATCH_ROWS hypotheses per batch instead of the Translator's default
// (Translator::sentences_for_rows; docs/performance.md, "Decoding batches", used it).
// BCQNMT_BENCH_THREADS the threads (default 1: the figures are per core). The corpus comes
// from $BCQNMT_DATA as for the app. Without a run or corpus each benchmark says why it skipped.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>

#include "apps/experiment.h"
#include "apps/model_loading.h"
#include "apps/translator.h"
#include "core/parallel.h"
#include "data/corpus.h"

using namespace bcqnmt;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

struct Setup {
  std::unique_ptr<Experiment> experiment;
  std::unique_ptr<Transformer> fp, bcq;
  std::string variant;
  std::vector<std::string> sentences;
  int threads = 1;     // BCQNMT_BENCH_THREADS
  int batch_rows = 0;  // BCQNMT_BENCH_BATCH_ROWS; 0: the Translator's default batch
  std::string error;   // why the benchmarks skip
};

std::string first_variant(const std::filesystem::path& run) {
  std::vector<std::string> names;
  if (std::filesystem::is_directory(run / "quantized"))
    for (const auto& entry : std::filesystem::directory_iterator(run / "quantized"))
      if (std::filesystem::exists(entry.path() / "model.bcq")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names.empty() ? "" : names.front();
}

const Setup& setup() {
  static const Setup s = [] {
    Setup s;
    const std::string run = env("BCQNMT_BENCH_RUN");
    if (run.empty()) {
      s.error = "set BCQNMT_BENCH_RUN to a trained run directory";
      return s;
    }
    try {
      s.experiment = std::make_unique<Experiment>(open_experiment(run, ""));
      s.variant = env("BCQNMT_BENCH_VARIANT").empty() ? first_variant(run) : env("BCQNMT_BENCH_VARIANT");
      s.fp = load_run_model(*s.experiment, "fp");
      if (!s.variant.empty()) s.bcq = load_run_model(*s.experiment, s.variant);
      s.sentences = load_split(resolve_data_dir(""), Split::kTest).source;
      const std::string threads = env("BCQNMT_BENCH_THREADS"), rows = env("BCQNMT_BENCH_BATCH_ROWS");
      if (!threads.empty()) s.threads = std::max(1, std::stoi(threads));
      if (!rows.empty()) s.batch_rows = std::max(1, std::stoi(rows));
      const int64_t limit = env("BCQNMT_BENCH_LIMIT").empty() ? 0 : std::stoll(env("BCQNMT_BENCH_LIMIT"));
      if (limit > 0 && limit < static_cast<int64_t>(s.sentences.size())) s.sentences.resize(limit);
    } catch (const std::exception& e) {
      s.error = e.what();
    }
    return s;
  }();
  return s;
}

// The model for benchmark argument `quantized`, or nullptr after telling the state why not.
const Transformer* model_or_skip(benchmark::State& state, bool quantized) {
  const Setup& s = setup();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return nullptr;
  }
  if (quantized && !s.bcq) {
    state.SkipWithError("the run has no quantized variant with a model.bcq");
    return nullptr;
  }
  state.SetLabel(quantized ? s.variant : "fp");
  return quantized ? s.bcq.get() : s.fp.get();
}

// Wall-clock and process CPU seconds to translate every sentence, and the output tokens
// (of the tokenized text). On the shared machine the CPU time is the steadier of the two:
// waiting for a core counts in the wall clock only.
struct Timing {
  double seconds = 0.0, cpu_seconds = 0.0;
  int64_t tokens = 0;
};

double cpu_now() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

Timing translate_all(const Transformer& model, int beam) {
  const Setup& s = setup();
  const Translator translator(model, s.experiment->source_vocab, s.experiment->target_vocab,
                              s.experiment->training.max_tokens);
  DecodeOptions options;
  options.beam_size = beam;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_now();
  const int batch = s.batch_rows == 0 ? 0 : Translator::sentences_for_rows(s.batch_rows, beam);
  const std::vector<std::string> out = translator.translate(s.sentences, options, batch);
  Timing t;
  t.cpu_seconds = cpu_now() - cpu_start;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& line : out)
    if (!line.empty()) t.tokens += 1 + std::count(line.begin(), line.end(), ' ');
  return t;
}

void BM_TranslateFile(benchmark::State& state) {
  const Transformer* model = model_or_skip(state, state.range(0) == 1);
  if (model == nullptr) return;
  set_num_threads(setup().threads);
  Timing t;
  for (auto _ : state) t = translate_all(*model, 1);
  const auto sentences = static_cast<double>(setup().sentences.size());
  state.counters["sentences_per_s"] = sentences / t.seconds;
  state.counters["tokens_per_s"] = static_cast<double>(t.tokens) / t.seconds;
  state.counters["ms_per_sentence"] = 1000.0 * t.seconds / sentences;
}

void BM_BeamVsGreedy(benchmark::State& state) {
  const Transformer* model = model_or_skip(state, state.range(0) == 1);
  if (model == nullptr) return;
  set_num_threads(setup().threads);
  Timing greedy, beam;
  for (auto _ : state) {
    greedy = translate_all(*model, 1);
    beam = translate_all(*model, 4);
  }
  state.counters["greedy_s"] = greedy.seconds;
  state.counters["beam4_s"] = beam.seconds;
  state.counters["beam4_over_greedy"] = beam.seconds / greedy.seconds;
  state.counters["beam4_over_greedy_cpu"] = beam.cpu_seconds / greedy.cpu_seconds;
}

}  // namespace

BENCHMARK(BM_TranslateFile)->Arg(0)->Arg(1)->ArgName("bcq")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_BeamVsGreedy)->Arg(0)->Arg(1)->ArgName("bcq")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

BENCHMARK_MAIN();

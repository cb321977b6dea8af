// Greedy decoding of the reference model (configs/small.json), batch 1, with key/value
// caches: fp32 against 3-bit BCQ on the lookup-table kernels, in one run.
//   BM_Decode64/fp32      64 output tokens with the dense model (target <= 70 ms)
//   BM_Decode64/bcq3      the same with model.bcq loaded on the LUT kernels
//                         (target >= 2x faster than fp32)
// Counters: seconds per token, and the model's runtime weight memory (fp32 parameter bytes vs
// the kernels' packed bytes plus the remaining fp32 tensors; target <= 1/5). Each model runs
// on 1 thread, then 2: `of_one_thread` = 2-thread time / the same model's 1-thread time in this
// run (issue 17: threads must never slow decoding down, <= 1 for both; target <= 0.7 for BCQ).
//   BM_TestSet            the full test split (1,803 sentences), batched 64 by source length
//                         as `bcqnmt evaluate` does, each batch decoding as many steps as its
//                         longest reference translation has tokens, plus [END]: what a
//                         trained model's outputs cost (target <= 60 s). The weights are
//                         untrained, so lengths come from the references rather than [END].
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/training_config.h"
#include "apps/translator.h"
#include "core/parallel.h"
#include "data/corpus.h"
#include "small_config.h"
#include "nn/decoding.h"
#include "quant/bcq_model.h"

using namespace bcqnmt;

namespace {


int64_t live_parameter_bytes(const Transformer& m) {
  int64_t bytes = 0;
  for (const auto& [name, p] : m.named_parameters())
    if (p.value().defined()) bytes += 4 * p.value().numel();
  return bytes;
}

struct Models {
  std::unique_ptr<Transformer> fp32;
  LoadedBcqModel bcq;
  int64_t fp32_bytes = 0, bcq_bytes = 0;
};

const Models& models() {
  static const Models m = [] {
    Models m;
    m.fp32 = std::make_unique<Transformer>(bench::small_config(), 7);
    m.fp32->eval();
    QuantizeSettings settings;
    settings.bits = BitAllocation::uniform(3);
    settings.solver.method = BcqMethod::greedy;
    const auto path = std::filesystem::temp_directory_path() / "bcqnmt_bench_decode.bcq";
    BcqModel::quantize(*m.fp32, settings).save(path, *m.fp32, 0, 0);
    m.bcq = load_bcq_model(path, /*kernels=*/true);
    std::filesystem::remove(path);
    m.fp32_bytes = live_parameter_bytes(*m.fp32);
    m.bcq_bytes = live_parameter_bytes(*m.bcq.model) + m.bcq.kernel_bytes;
    return m;
  }();
  return m;
}

// model (0 fp32, 1 bcq) -> 1-thread seconds per 64-token decode, measured in this run.
std::map<int64_t, double>& one_thread_times() {
  static std::map<int64_t, double> m;
  return m;
}

void BM_Decode64(benchmark::State& state) {
  const bool quantized = state.range(0) == 1;
  const int threads = static_cast<int>(state.range(1));
  set_num_threads(threads);
  const Models& m = models();
  const Transformer& model = quantized ? *m.bcq.model : *m.fp32;
  // A 20-token source; greedy_logits_cached runs exactly 64 steps (no early [END]).
  IndexTensor source{{1, 20}, std::vector<int32_t>(20, 0)};
  for (int j = 0; j < 20; ++j) source.data[j] = j == 0 ? kStartId : j == 19 ? kEndId : 100 + 37 * j;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(greedy_logits_cached(model, source, 64));
  const double per_decode = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                            static_cast<double>(state.iterations());
  if (threads == 1) one_thread_times()[state.range(0)] = per_decode;
  const auto one = one_thread_times().find(state.range(0));
  if (threads > 1 && one != one_thread_times().end()) state.counters["of_one_thread"] = per_decode / one->second;
  state.counters["s/token"] =
      benchmark::Counter(64.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_MB"] = static_cast<double>(quantized ? m.bcq_bytes : m.fp32_bytes) / 1e6;
  state.SetLabel(quantized ? "3-bit BCQ, LUT kernels" : "fp32");
}

// (source with [START]/[END], decoding steps) per batch of the test split, batched as
// `bcqnmt evaluate` batches it.
std::vector<std::pair<IndexTensor, int>> test_set_batches() {
  const ParallelText train = load_split(resolve_data_dir(""), Split::kTrain);
  const ParallelText test = load_split(resolve_data_dir(""), Split::kTest);
  const Vocabulary pt = Vocabulary::learn(train.source), en = Vocabulary::learn(train.target);
  const int max_tokens = TrainingConfig{}.max_tokens;
  const Translator translator(*models().fp32, pt, en, max_tokens);
  std::vector<std::vector<int32_t>> encoded;
  for (const std::string& sentence : test.source) encoded.push_back(translator.encode_source(sentence));
  std::vector<std::pair<IndexTensor, int>> batches;
  for (SourceBatch& batch : batch_by_length(encoded, 64)) {
    int steps = 0;  // the longest reference's tokens + [END], within the decoding limit
    for (size_t i : batch.sentences)
      steps = std::max(steps, std::min(static_cast<int>(en.encode(test.target[i]).size()) + 1, DecodeOptions{}.max_length));
    batches.emplace_back(std::move(batch.source), steps);
  }
  return batches;
}

void BM_TestSet(benchmark::State& state) {
  set_num_threads(2);
  std::vector<std::pair<IndexTensor, int>> batches;
  try {
    batches = test_set_batches();
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("corpus absent: ") + e.what()).c_str());
    return;
  }
  int64_t sentences = 0, steps = 0;
  for (auto _ : state)
    for (const auto& [source, n] : batches) {
      benchmark::DoNotOptimize(greedy_logits_cached(*models().fp32, source, n));
      sentences += source.shape[0];
      steps += n;
    }
  state.counters["sentences"] = static_cast<double>(sentences) / static_cast<double>(state.iterations());
  state.counters["mean_steps"] = static_cast<double>(steps) / static_cast<double>(state.iterations() * batches.size());
  state.SetLabel("fp32, batch 64, 2 threads");
}

}  // namespace

BENCHMARK(BM_TestSet)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

BENCHMARK(BM_Decode64)
    ->ArgsProduct({{0, 1}, {1, 2}})  // each model at 1 thread, then 2 (of_one_thread needs that order)
    ->ArgNames({"bcq", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK_MAIN();

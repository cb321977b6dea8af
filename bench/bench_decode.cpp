// Greedy decoding of the reference model (configs/small.json), batch 1, with key/value
// caches: fp32 against 3-bit BCQ on the lookup-table kernels, in one run.
//   BM_Decode64/fp32      64 output tokens with the dense model (target <= 70 ms)
//   BM_Decode64/bcq3      the same with model.bcq loaded on the LUT kernels
//                         (target >= 2x faster than fp32)
// Counters: seconds per token, and the model's runtime weight memory (fp32 parameter bytes vs
// the kernels' packed bytes plus the remaining fp32 tensors; target <= 1/5).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/parallel.h"
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

void BM_Decode64(benchmark::State& state) {
  const bool quantized = state.range(0) == 1;
  set_num_threads(static_cast<int>(state.range(1)));
  const Models& m = models();
  const Transformer& model = quantized ? *m.bcq.model : *m.fp32;
  // A 20-token source; greedy_logits_cached runs exactly 64 steps (no early [END]).
  IndexTensor source{{1, 20}, std::vector<int32_t>(20, 0)};
  for (int j = 0; j < 20; ++j) source.data[j] = j == 0 ? kStartId : j == 19 ? kEndId : 100 + 37 * j;
  for (auto _ : state) benchmark::DoNotOptimize(greedy_logits_cached(model, source, 64));
  state.counters["s/token"] =
      benchmark::Counter(64.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_MB"] = static_cast<double>(quantized ? m.bcq_bytes : m.fp32_bytes) / 1e6;
  state.SetLabel(quantized ? "3-bit BCQ, LUT kernels" : "fp32");
}

}  // namespace

BENCHMARK(BM_Decode64)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"bcq", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK_MAIN();

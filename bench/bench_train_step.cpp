// Training step of the reference model (configs/small.json) against the GEMM-only bound
// of the same step, in one run.
//
//   BM_GemmBound/...      every GEMM the step performs (recorded through core/gemm.h's
//                         observer), plus the per-(batch, head) GEMMs a plain attention
//                         would run on the padded shapes (QK^T, PV; 4 more backward), all
//                         replayed on raw cblas_sgemm: /0 with OpenBLAS's own 2 threads,
//                         /1 single-threaded sgemm on panels over 2 TBB workers; the
//                         faster is the bound.
//   BM_TrainStep/B/P      forward + backward + Adam (B: 0 reference batches, 1 bucketed;
//                         P: 0 fp32, 1 bf16 matmuls where the CPU has them): target tokens/s,
//                         padding share, the share of the step spent in GEMM, peak RSS.
//                         Closing lines: fp32 step time / GEMM-only time on reference
//                         batches (target <= 1.33); for the bucketed batches (as
//                         configs/small_bucketed.json draws them), an estimate of one epoch
//                         of the real train split.
// Batches come from the real corpus with the reference's batcher when it is present
// (vocabularies learned on the spot, ~2 s); otherwise from a synthetic length model.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "apps/training_batches.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/parallel.h"
#include "small_config.h"
#include "data/corpus.h"
#include "nn/metrics.h"
#include "nn/transformer.h"
#include "optim/adam.h"
#include "optim/learning_rate_schedule.h"

using namespace bcqnmt;

namespace {

struct Workload {
  ModelConfig config;
  std::vector<Batch> reference_batches, bucketed_batches;
  int64_t bucketed_batches_per_epoch = 0, bucketed_epoch_target_tokens = 0;
  std::string source;  // where the batches came from
};


// Synthetic pairs with a log-normal length (median ~21 tokens, long tail), ids uniform.
EncodedCorpus synthetic_corpus(int64_t pairs) {
  Rng rng(3);
  EncodedCorpus c;
  for (int64_t i = 0; i < pairs; ++i) {
    const int len = std::clamp(static_cast<int>(std::exp(3.05 + 0.55 * rng.normal())), 1, 200);
    std::vector<int32_t> s(len), t(len);
    for (auto& x : s) x = 4 + static_cast<int32_t>(rng.below(7000));
    for (auto& x : t) x = 4 + static_cast<int32_t>(rng.below(7000));
    c.source.push_back(std::move(s));
    c.target.push_back(std::move(t));
  }
  return c;
}

const Workload& workload() {
  static const Workload w = [] {
    Workload w;
    w.config = bench::small_config();
    EncodedCorpus corpus;
    try {
      const ParallelText text = load_split(resolve_data_dir(""), Split::kTrain);
      const Vocabulary pt = Vocabulary::learn(text.source), en = Vocabulary::learn(text.target);
      corpus = encode_corpus(text, pt, en);
      w.source = "TED train split";
    } catch (const std::exception&) {
      corpus = synthetic_corpus(51785);
      w.source = "synthetic lengths (corpus absent)";
    }
    TrainingConfig reference;  // the reference protocol: shuffle 20000, batch 64
    auto batcher = make_batcher(reference, corpus);
    for (int i = 0; i < 6; ++i) {
      Batch b;
      batcher->next(b);
      w.reference_batches.push_back(std::move(b));
    }
    // The bucketed batches of configs/small_bucketed.json, the config a real epoch runs.
    std::ifstream config(std::string(BCQNMT_SOURCE_DIR) + "/configs/small_bucketed.json");
    const TrainingConfig bucketed = TrainingConfig::from_json(nlohmann::json::parse(config).at("training"));
    auto fast = make_batcher(bucketed, corpus);
    // Bucketed batches vary from tiny to huge sentences: sample 12 spread over a whole
    // epoch, and count the epoch's target tokens for the estimate.
    w.bucketed_batches_per_epoch = fast->batches_in_epoch();
    const int64_t every = std::max<int64_t>(1, w.bucketed_batches_per_epoch / 12);
    for (int64_t i = 0; i < w.bucketed_batches_per_epoch; ++i) {
      Batch b;
      fast->next(b);
      w.bucketed_epoch_target_tokens += b.num_target_tokens;
      if (i % every == 0 && w.bucketed_batches.size() < 12) w.bucketed_batches.push_back(std::move(b));
    }
    return w;
  }();
  return w;
}

struct Trainee {
  Transformer model;
  Adam adam;
  int64_t step = 0;
  explicit Trainee(const ModelConfig& c) : model(c, 1), adam(model.parameters()) {}
  void train_step(const Batch& batch) {
    adam.zero_grad();
    Variable loss = model.masked_loss(batch.source, batch.target_in, batch.target_out);
    loss.backward();
    adam.step(noam_learning_rate(++step, model.config().d_model, 4000));
  }
};

std::vector<GemmShape>* g_recorded = nullptr;
void record(const GemmShape& s) { g_recorded->push_back(s); }

// The GEMMs of one training step on `batch`, as a plain implementation would run them.
std::vector<GemmShape> step_gemms(Trainee& t, const Batch& batch) {
  std::vector<GemmShape> shapes;
  g_recorded = &shapes;
  {
    const GemmObserverScope observe(record);
    t.train_step(batch);
  }
  const ModelConfig& c = t.model.config();
  const int64_t b = batch.source.shape[0], s = batch.source.shape[1], tt = batch.target_in.shape[1];
  auto attention = [&](int64_t tq, int64_t tk) {
    for (int64_t i = 0; i < b * c.num_heads; ++i) {
      shapes.push_back({false, true, tq, tk, c.key_dim});   // scores = Q K^T
      shapes.push_back({false, false, tq, c.key_dim, tk});  // out = P V
      shapes.push_back({false, true, tq, tk, c.key_dim});   // dP = dO V^T
      shapes.push_back({true, false, tk, c.key_dim, tq});   // dV = P^T dO
      shapes.push_back({false, false, tq, c.key_dim, tk});  // dQ = dS K
      shapes.push_back({true, false, tk, c.key_dim, tq});   // dK = dS^T Q
    }
  };
  for (int l = 0; l < c.num_layers; ++l) {
    attention(s, s);
    attention(tt, tt);
    attention(tt, s);
  }
  return shapes;
}

double flops(const std::vector<GemmShape>& shapes) {
  double f = 0;
  for (const auto& g : shapes) f += 2.0 * g.m * g.n * g.k;
  return f;
}


void BM_GemmBound(benchmark::State& state) {
  const Workload& w = workload();
  set_num_threads(2);
  Trainee t(w.config);
  std::vector<std::vector<GemmShape>> per_batch;
  for (const Batch& b : w.reference_batches) per_batch.push_back(step_gemms(t, b));
  int64_t max_elems = 0;
  for (const auto& shapes : per_batch)
    for (const auto& g : shapes) max_elems = std::max({max_elems, g.m * g.k, g.k * g.n, g.m * g.n});
  std::vector<float> a(max_elems, 0.5f), bb(max_elems, 0.25f), cc(max_elems, 0.0f);
  // Arg 0: OpenBLAS with its own 2 threads. Arg 1: single-threaded cblas_sgemm on panels
  // over 2 TBB workers (core/gemm.cpp). The faster of the two is the bound.
  const bool panels = state.range(0) == 1;
  if (!panels) openblas_set_num_threads(2);
  size_t i = 0;
  double total_flops = 0.0;
  for (auto _ : state) {
    const auto& shapes = per_batch[i++ % per_batch.size()];
    for (const auto& g : shapes) {
      const int64_t lda = g.trans_a ? g.m : g.k, ldb = g.trans_b ? g.k : g.n;
      if (panels)
        gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data(), lda, bb.data(), ldb, 0.0f, cc.data(), g.n);
      else
        cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                    static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), 1.0f, a.data(),
                    static_cast<int>(lda), bb.data(), static_cast<int>(ldb), 0.0f, cc.data(), static_cast<int>(g.n));
    }
    total_flops += flops(shapes);
  }
  set_num_threads(2);
  state.counters["GFLOP_per_step"] = total_flops / 1e9 / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(total_flops / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(w.source);
}

void BM_TrainStep(benchmark::State& state) {
  const Workload& w = workload();
  const bool bucketed = state.range(0) == 1;
  const GemmPrecision precision = state.range(1) == 1 ? GemmPrecision::bf16 : GemmPrecision::fp32;
  if (precision == GemmPrecision::bf16 && !bf16_gemm_unavailable_reason().empty()) {
    state.SkipWithError(bf16_gemm_unavailable_reason().c_str());
    return;
  }
  const GemmPrecisionScope scope(precision);
  const auto& batches = bucketed ? w.bucketed_batches : w.reference_batches;
  set_num_threads(2);
  Trainee t(w.config);
  t.train_step(batches[0]);  // warm-up: first-touch allocations
  // bf16: oneDNN builds a matmul kernel per new shape (~1 ms each), once per program; an
  // epoch meets each of its few hundred shapes hundreds of times, so they are built here.
  if (precision == GemmPrecision::bf16)
    for (const Batch& b : batches) t.train_step(b);
  size_t i = 0;
  int64_t target_tokens = 0, slots = 0, pad = 0;
  for (auto _ : state) {
    const Batch& b = batches[i++ % batches.size()];
    t.train_step(b);
    target_tokens += b.num_target_tokens;
    const PaddingCount p = count_padding(b);
    slots += p.slots;
    pad += p.pad;
  }
  state.counters["target_tokens/s"] = benchmark::Counter(static_cast<double>(target_tokens), benchmark::Counter::kIsRate);
  state.counters["padding"] = static_cast<double>(pad) / static_cast<double>(std::max<int64_t>(slots, 1));
  // One more step, observed: the share of its wall time spent inside GEMMs.
  std::vector<GemmShape> shapes;
  g_recorded = &shapes;
  double step_seconds = 0.0;
  {
    const GemmObserverScope observe(record);
    const auto start = std::chrono::steady_clock::now();
    t.train_step(batches[0]);
    step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double gemm_seconds = 0.0;
  for (const auto& g : shapes) gemm_seconds += g.seconds;
  state.counters["gemm_share"] = gemm_seconds / step_seconds;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_MB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  state.SetLabel(std::string(bucketed ? "bucketed" : "reference batches") + ", " + gemm_precision_names().name(precision));
}

// The ratio needs both figures from the same run: computed after all benchmarks ran.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const double seconds = r.GetAdjustedRealTime() / 1e3;  // ms -> s
      if (r.benchmark_name().rfind("BM_GemmBound", 0) == 0)
        gemm_seconds_ = gemm_seconds_ > 0 ? std::min(gemm_seconds_, seconds) : seconds;
      if (r.benchmark_name().rfind("BM_TrainStep/0/0", 0) == 0 && gemm_seconds_ > 0)
        extra_ += "training step (reference batches) / GEMM-only bound = " + std::to_string(seconds / gemm_seconds_) +
                  " (target <= 1.33)\n";
      if (r.benchmark_name().rfind("BM_TrainStep/1", 0) == 0 && !r.error_occurred) {
        const Workload& w = workload();
        extra_ += r.benchmark_name().rfind("BM_TrainStep/1/1", 0) == 0 ? "bf16 matmuls: " : "fp32: ";
        const double rate = r.counters.at("target_tokens/s").value;
        extra_ += "bucketed epoch estimate (training steps only): " + std::to_string(w.bucketed_epoch_target_tokens) +
                  " target tokens in " + std::to_string(w.bucketed_batches_per_epoch) + " steps / " +
                  std::to_string(rate) + " tokens/s = " +
                  std::to_string(static_cast<double>(w.bucketed_epoch_target_tokens) / rate / 60.0) +
                  " min (target <= 6)\n";
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    GetOutputStream() << extra_;
  }

 private:
  double gemm_seconds_ = 0.0;
  std::string extra_;
};

}  // namespace

BENCHMARK(BM_GemmBound)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
// Args: {batches: 0 reference, 1 bucketed; matmul precision: 0 fp32, 1 bf16}.
BENCHMARK(BM_TrainStep)->Args({0, 0})->Args({0, 1})->Unit(benchmark::kMillisecond)->MinTime(4.0)->UseRealTime();
// Every sampled bucketed batch once.
BENCHMARK(BM_TrainStep)->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->Iterations(12)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

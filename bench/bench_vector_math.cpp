// core/vector_math.h's kernels on one row of the vocabulary (7,010 logits: a log-softmax in
// beam search, the cross-entropy of one target token), for each ISA this CPU runs, each beside
// its plain scalar baseline measured in the same benchmark:
//   BM_ExpShifted/isa   sum of exp(x - max) vs a std::exp loop: speedup_over_scalar
//   BM_MaxOf/isa        vs std::max_element
//   BM_FirstAbove/isa   a scan that finds nothing (the common case in expand's top-k) vs
//                       std::find_if
// Targets: with 16 lanes (AVX-512) exp_shifted >= 8x std::exp and the two scans >= 4x their
// baselines. Until 2026-12-01 all three kernels compiled to scalar code (see
// core/vector_math_lanes.h): exp_shifted then took 19.8 us, no faster than std::exp.
//   build/bench/bench_vector_math
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "core/vector_math.h"

using namespace bcqnmt;

namespace {

constexpr int64_t kRow = 7010;  // the target vocabulary of the trained runs

std::vector<float> logits() {
  Rng rng(3);
  std::vector<float> x = rng.normals(kRow);
  for (float& v : x) v *= 3.0f;
  return x;
}

// Seconds per call of f, over enough calls for about 20 ms.
template <class F>
double seconds_per_call(F&& f) {
  int64_t calls = 1;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < calls; ++i) f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s > 0.02) return s / static_cast<double>(calls);
    calls *= 2;
  }
}

// Runs `fast` and `scalar` alternately (so load changes hit both) and reports fast's time,
// the ratio and the rate in floats per ns.
template <class Fast, class Scalar>
void compare(benchmark::State& state, Fast&& fast, Scalar&& scalar) {
  const auto isa = static_cast<VectorIsa>(state.range(0));
  if (!vector_isa_supported(isa)) {
    state.SkipWithError(("this CPU lacks " + vector_isa_name(isa)).c_str());
    return;
  }
  state.SetLabel(vector_isa_name(isa));
  seconds_per_call(fast);  // warm-up: the first timing of a process ran up to 7x slow
  seconds_per_call(scalar);
  double fast_s = 0.0, scalar_s = 0.0;
  for (auto _ : state) {
    const double f = seconds_per_call(fast), s = seconds_per_call(scalar);
    fast_s += f;
    scalar_s += s;
    state.SetIterationTime(f);
  }
  state.counters["speedup_over_scalar"] = scalar_s / fast_s;
  state.counters["floats_per_ns"] = static_cast<double>(kRow) * static_cast<double>(state.iterations()) / fast_s / 1e9;
}

void BM_ExpShifted(benchmark::State& state) {
  const std::vector<float> x = logits();
  const float top = *std::max_element(x.begin(), x.end());
  const VectorMathKernels& k = vector_math_kernels(static_cast<VectorIsa>(state.range(0)));
  compare(
      state, [&] { benchmark::DoNotOptimize(k.exp_shifted(x.data(), kRow, top, nullptr)); },
      [&] {
        float s = 0.0f;
        for (float v : x) s += std::exp(v - top);
        benchmark::DoNotOptimize(s);
      });
}

void BM_MaxOf(benchmark::State& state) {
  const std::vector<float> x = logits();
  const VectorMathKernels& k = vector_math_kernels(static_cast<VectorIsa>(state.range(0)));
  compare(
      state, [&] { benchmark::DoNotOptimize(k.max_of(x.data(), kRow)); },
      [&] { benchmark::DoNotOptimize(*std::max_element(x.begin(), x.end())); });
}

void BM_FirstAbove(benchmark::State& state) {
  const std::vector<float> x = logits();
  const float above_all = *std::max_element(x.begin(), x.end());  // strictly above: none
  const VectorMathKernels& k = vector_math_kernels(static_cast<VectorIsa>(state.range(0)));
  compare(
      state, [&] { benchmark::DoNotOptimize(k.first_above(x.data(), 0, kRow, above_all)); },
      [&] { benchmark::DoNotOptimize(std::find_if(x.begin(), x.end(), [&](float v) { return v > above_all; })); });
}

void isas(benchmark::internal::Benchmark* b) {
  for (VectorIsa isa : {VectorIsa::sse2, VectorIsa::avx2, VectorIsa::avx512}) b->Arg(static_cast<int>(isa));
  b->ArgName("isa")->UseManualTime()->Iterations(5)->Unit(benchmark::kNanosecond);
}

}  // namespace

BENCHMARK(BM_ExpShifted)->Apply(isas);
BENCHMARK(BM_MaxOf)->Apply(isas);
BENCHMARK(BM_FirstAbove)->Apply(isas);

BENCHMARK_MAIN();

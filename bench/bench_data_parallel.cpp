// The communication of one data-parallel training step (optim/data_parallel.h): summing the
// gradients of all ranks with DataParallel::reduce_gradients (pack into one flat fp32
// buffer, MPI_Allreduce in place, unpack), at the parameter counts of
// configs/small_bucketed.json (~10.2M) and of a base Transformer (~60M), beside a baseline
// measured in the same run: streaming the same bytes once through memory (std::copy of the
// gradient buffer), the floor of anything that touches every gradient.
//
// Run it under mpirun, where it means something (with one rank the reduction is a no-op):
//   mpirun --allow-run-as-root --oversubscribe -np 2 build/bench/bench_data_parallel
// Every rank runs the same fixed iteration counts (a collective must be entered by all
// ranks, so Google Benchmark may not pick counts per rank); rank 0 alone prints. The
// figures feed docs/scaling.md.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "core/variable.h"
#include "optim/data_parallel.h"

using namespace bcqnmt;

namespace {

constexpr int kIterations = 20;

// `total` gradient floats in tensors of one million (and a remainder), every one holding a
// gradient, as after a backward pass.
std::vector<Variable> parameters_with_gradients(int64_t total) {
  std::vector<Variable> parameters;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min<int64_t>(1'000'000, total - done);
    Variable p(Tensor::full({n}, 0.5f), true);
    p.grad() = Tensor::full({n}, 1.0f);
    parameters.push_back(p);
    done += n;
  }
  return parameters;
}

void reduce_gradients(benchmark::State& state) {
  DataParallel& group = DataParallel::world();
  const int64_t total = state.range(0);
  const std::vector<Variable> parameters = parameters_with_gradients(total);
  std::vector<float> source(static_cast<size_t>(total), 1.0f), copy(static_cast<size_t>(total));
  double reduce_seconds = 0.0, copy_seconds = 0.0;
  for (auto _ : state) {
    group.barrier("the benchmark's start line");  // the ranks enter together
    auto start = std::chrono::steady_clock::now();
    group.reduce_gradients(parameters);
    const double reduce = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    std::copy(source.begin(), source.end(), copy.begin());
    benchmark::DoNotOptimize(copy.data());
    const double streamed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(reduce);
    reduce_seconds += reduce;
    copy_seconds += streamed;
  }
  const double bytes = 4.0 * static_cast<double>(total);
  state.counters["ranks"] = group.size();
  state.counters["gradient_MB"] = bytes / 1e6;
  state.counters["reduce_ms"] = 1e3 * reduce_seconds / state.iterations();
  state.counters["copy_ms"] = 1e3 * copy_seconds / state.iterations();
  state.counters["reduce_over_copy"] = reduce_seconds / copy_seconds;
  // The bus bandwidth convention of NCCL's tests: a ring allreduce moves 2 (N - 1) / N of
  // the bytes through each rank's link.
  state.counters["bus_GB/s"] =
      2.0 * (group.size() - 1) / group.size() * bytes / (reduce_seconds / state.iterations()) / 1e9;
}

BENCHMARK(reduce_gradients)
    ->ArgName("floats")
    ->Arg(10'200'000)  // configs/small_bucketed.json with the TED vocabularies
    ->Arg(60'000'000)  // a base Transformer (Vaswani et al. 2017: 65M with its 37k shared vocabulary)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  DataParallel& group = DataParallel::world();
  if (!group.is_root() && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  DataParallel::finish();
  return 0;
}

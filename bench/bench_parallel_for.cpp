// What a fork-join costs: W microseconds of work run on the calling thread, against the same
// work split into two parallel_for tasks on 2 threads, in the same run. `speedup` = one-thread
// time / two-task time for the work alone (a gap of serial work between calls lets the idle
// worker go to sleep, as it does between the small ops of a decoding step); work_us_per_call
// is the measured time of the work. Where speedup passes ~1.3 is where core/parallel.h's
// kMinTaskNs should sit: below it, splitting a loop costs about what it saves. With the other
// core busy (a shared machine) no split pays: speedup stays near 1 or below.
//   build/bench/bench_parallel_for
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "core/parallel.h"

using namespace bcqnmt;

namespace {

// A dependent chain of multiply-adds: `iterations` of them take a fixed time on one core.
float busy(int64_t iterations, float seed) {
  float a = seed;
  for (int64_t i = 0; i < iterations; ++i) a = a * 0.999999f + 1e-7f;
  return a;
}

// The fastest of five timings: on a shared machine a single one may have been descheduled.
double iterations_per_us() {
  static const double rate = [] {
    const int64_t n = 5'000'000;
    double best = 0.0;
    for (int i = 0; i < 5; ++i) {
      const auto start = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(busy(n, 1.0f));
      const double us = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * 1e6;
      best = std::max(best, static_cast<double>(n) / us);
    }
    return best;
  }();
  return rate;
}

// (work us, gap us) -> one-thread seconds per call of the work alone.
std::map<std::pair<int64_t, int64_t>, double>& serial_times() {
  static std::map<std::pair<int64_t, int64_t>, double> m;
  return m;
}

void BM_ForkJoin(benchmark::State& state) {
  const int64_t work_us = state.range(0), gap_us = state.range(1);
  const bool split = state.range(2) == 1;
  set_num_threads(split ? 2 : 1);
  const auto work = static_cast<int64_t>(static_cast<double>(work_us) * iterations_per_us());
  const auto gap = static_cast<int64_t>(static_cast<double>(gap_us) * iterations_per_us());
  double worked = 0.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(busy(gap, 2.0f));  // serial work between calls, not timed below
    const auto start = std::chrono::steady_clock::now();
    if (split) {
      parallel_for(2, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) benchmark::DoNotOptimize(busy(work / 2, static_cast<float>(i)));
      });
    } else {
      benchmark::DoNotOptimize(busy(work, 3.0f));
    }
    worked += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double per_call = worked / static_cast<double>(state.iterations());
  state.counters["work_us_per_call"] = per_call * 1e6;
  if (!split) serial_times()[{work_us, gap_us}] = per_call;
  const auto serial = serial_times().find({work_us, gap_us});
  if (split && serial != serial_times().end()) state.counters["speedup"] = serial->second / per_call;
}

}  // namespace

BENCHMARK(BM_ForkJoin)
    ->ArgsProduct({{2, 5, 10, 20, 40, 80}, {0, 100}, {0, 1}})
    ->ArgNames({"work_us", "gap_us", "split"})
    ->UseRealTime()
    ->MinTime(0.2);

BENCHMARK_MAIN();

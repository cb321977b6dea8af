#pragma once
// The threading policy of bcqnmt, in one place.
//
// Loops run on a team of threads that spin between jobs (core/thread_team.h): the caller
// and set_num_threads(n) - 1 helpers (default: all cores). Each loop is cut into chunks of
// about `grain` items, which the team's threads claim one at a time, so an uneven loop
// still balances. GEMMs are split into panels over the same threads, each panel a call to
// a single-threaded OpenBLAS (core/gemm.cpp): with OpenBLAS's own threads, its workers
// spin-wait between calls and fight ours for the cores; with one set of threads nothing
// oversubscribes. Three exceptions: a loop inside a team chunk runs on the thread that runs the
// chunk (nested loops), a loop under a SingleThreadScope (core/execution_context.h) runs on
// its caller, and a loop started while another thread's loop holds the team (concurrent
// callers) runs on oneTBB's pool instead, at the same thread count.
//
// Determinism: every kernel splits work into fixed blocks and reduces each row or block
// sequentially, so the same seed and the same thread count give bit-identical results,
// whichever thread runs a chunk.
//
// Context: a chunk runs under the caller's execution context (core/execution_context.h),
// on whichever thread runs it: a thread_local set on the caller is not visible to the
// other threads, so parallel_for captures it at dispatch and installs it around each chunk.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/execution_context.h"
#include "core/thread_team.h"

namespace bcqnmt {

// n <= 0: all cores. CoreError when the system cannot start n threads; the program is then
// left on one thread.
void set_num_threads(int n);
int num_threads();

// The team of set_num_threads' threads; null on one thread.
ThreadTeam* thread_team();

// Enough work per task to amortise scheduling.
constexpr int64_t kElementwiseGrain = 16384;

// The least work worth handing to another thread, in ns. While the team's helpers spin, a
// hand-off costs well under a microsecond (bench/bench_parallel_for); through TBB it cost
// several (the worker's wake-up), which kept every loop of a batch-1 decoding step (1-30 us)
// on one thread. Kernels whose cost per item is known pass it to grain_for_cost, so a loop
// is split only into chunks of about this much work or more.
constexpr double kMinTaskNs = 1000.0;

// parallel_for's grain for items that each cost about ns_per_item: about kMinTaskNs of work.
inline int64_t grain_for_cost(double ns_per_item) {
  return std::max<int64_t>(1, static_cast<int64_t>(kMinTaskNs / std::max(ns_per_item, 1.0) + 0.5));
}

// parallel_for's grain for one chunk per thread: for loops whose tasks share work done once per
// chunk (a layer's tasks of a decoding step tabulate their input once, nn/).
inline int64_t grain_per_thread(int64_t n) { return (n + num_threads() - 1) / num_threads(); }

// f(begin, end) over [0, n) in chunks of about `grain` items or more; a loop of less than
// 1.5 grains runs on the caller.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  ThreadTeam* team = thread_team();
  // Equal chunks of about `grain` items or more (n / grain rounded to nearest: a loop of 1.5
  // grains is two chunks), at most 8 per thread: enough to balance uneven chunks or a thread
  // that starts late, few enough that claiming them costs nothing.
  const int64_t g = std::max<int64_t>(grain, 1);
  const int64_t chunks = team ? std::min<int64_t>(8 * team->threads(), (n + g / 2) / g) : 1;
  if (chunks <= 1 || ThreadTeam::inside_job() || execution_context().single_thread) {
    f(int64_t{0}, n);
    return;
  }
  const ExecutionContext context = execution_context();
  const int64_t chunk = (n + chunks - 1) / chunks;
  std::atomic<int64_t> next{0};
  auto work = [&] {
    const ExecutionScope caller(context);
    for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c * chunk < n;
         c = next.fetch_add(1, std::memory_order_relaxed))
      f(c * chunk, std::min(n, (c + 1) * chunk));
  };
  if (team->try_run(work)) return;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain), [&](const tbb::blocked_range<int64_t>& r) {
    const ExecutionScope caller(context);
    f(r.begin(), r.end());
  });
}

// sum_i term(x[i]) in double, over fixed blocks of 4,096 in parallel and then the blocks in
// order: the same result for any thread count.
template <class Term>
double deterministic_sum(const float* x, int64_t n, Term term) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(blocks, 0)), 0.0);
  parallel_for(blocks, 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      for (int64_t i = k * kBlock; i < std::min(n, (k + 1) * kBlock); ++i)
        partial[static_cast<size_t>(k)] += term(x[i]);
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace bcqnmt

#pragma once
// The threading policy of bcqnmt, in one place.
//
// One thread pool: oneTBB's. Element-wise and row-wise kernels are TBB loops, and GEMMs
// are split into panels that TBB workers hand to a single-threaded OpenBLAS
// (core/gemm.cpp). With OpenBLAS's own threads, its workers spin-wait between calls and
// fight the TBB workers for the cores; with one pool nothing oversubscribes.
// set_num_threads(n) sets the pool size (default: all cores).
//
// Determinism: every kernel splits work into fixed blocks and reduces each row or block
// sequentially, so the same seed and the same thread count give bit-identical results.
//
// Context: a block runs under the caller's execution context (core/execution_context.h),
// on whichever thread runs it: a thread_local set on the caller is not visible to the
// TBB workers, so parallel_for captures it at dispatch and installs it around each block.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/execution_context.h"

namespace bcqnmt {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();

// Enough work per task to amortise scheduling (~tens of microseconds).
constexpr int64_t kElementwiseGrain = 16384;

// The least work worth handing to another worker, in ns. A fork-join on an idle TBB worker
// costs the caller several microseconds (waking the worker, the steal, the join;
// bench/bench_parallel_for on the 2-core Zen 4 VM, shared, load 3-4: split in two, 5-10 us of
// work ran at 0.6-1.2x, 20 us at up to 1.7x, and at ~1.0x in runs where the other core was
// busy; a 20 us threshold made 2-thread batch-1 decoding 1.18x slower once). Kernels whose cost per item is known
// pass it to grain_for_cost, so a loop forks only when it has at least this much work: the
// products of a batch-1 decoding step of the model (<= ~35 us) and its attention calls (until
// ~70 cached positions) stay on the calling thread; batches and large matrices split.
constexpr double kMinTaskNs = 40000.0;

// parallel_for's grain for items that each cost about ns_per_item: a loop of fewer than
// kMinTaskNs / ns_per_item items runs on the caller, a longer one is split into tasks of about
// that many (TBB halves a range while it is longer than the grain).
inline int64_t grain_for_cost(double ns_per_item) {
  return std::max<int64_t>(1, static_cast<int64_t>(kMinTaskNs / std::max(ns_per_item, 1.0) + 0.5));
}

// f(begin, end) over [0, n) in blocks of at least `grain` items.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) {
    f(int64_t{0}, n);
    return;
  }
  const ExecutionContext context = execution_context();
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

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
#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace bcqnmt {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();

// Enough work per task to amortise scheduling (~tens of microseconds).
constexpr int64_t kElementwiseGrain = 16384;

// f(begin, end) over [0, n) in blocks of at least `grain` items.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) {
    f(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

}  // namespace bcqnmt

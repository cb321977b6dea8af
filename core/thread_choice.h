#pragma once
// Whether the steps of a loop of similar steps (a decoding loop) run faster on the thread
// team or on the calling thread alone, found by timing both and checked again now and then.
//
// Why: a batch-1 decoding step is ~40 loops of 1-30 us, each handed to the team's helper and
// back. On the 2-core VM this project runs on, 2 threads usually take 0.78-0.82 of the
// 1-thread time of 3-bit decoding; but for seconds to minutes at a time, the helper's share
// of each product runs ~1.6x slower than the same work on the caller, and 2 threads take
// 1.35-1.4x the 1-thread time (bench_decode, 2026-12-01; docs/performance.md, "Runs that go
// badly"). Pinning the threads, disabling ASLR and spinning without `pause` did not change
// it, so no fixed rule can tell the two states apart; timing the steps can.
//
// Results do not depend on the choice: under SingleThreadScope every loop keeps the split
// it has on the team (GEMM panels are cut by num_threads(), BCQ products and attention
// compute each output on one thread in a fixed order) and runs its pieces in turn.
//
// One object per loop, used by one thread.
#include <chrono>

#include "core/execution_context.h"
#include "core/parallel.h"

namespace bcqnmt {

class ThreadChoice {
 public:
  // Pairs of steps timed one each way, alternating, before a choice: a pair decides when
  // one way is clearly faster (kClearRatio), else all kProbePairs are summed.
  static constexpr int kProbePairs = 3;
  static constexpr double kClearRatio = 1.25;
  // Steps run the chosen way before the next probe: probing costs about one step the slower
  // way per kKeptSteps.
  static constexpr int kKeptSteps = 128;

  // Runs step() once, on the team or on this thread alone (SingleThreadScope).
  template <class Step>
  void run(Step&& step) {
    if (num_threads() <= 1) {
      step();
      return;
    }
    const bool alone = next_alone();
    const auto start = std::chrono::steady_clock::now();
    if (alone) {
      const SingleThreadScope scope;
      step();
    } else {
      step();
    }
    record(alone, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  // The current choice: true while steps run on the calling thread alone.
  bool alone() const { return alone_; }

 private:
  bool next_alone() const;
  void record(bool alone, double seconds);

  // Steps of the current probe; 2 * kProbePairs: not probing. -1 at first: the first step
  // is not timed, as it costs more than the others (a decoder's first step fills the
  // cross-attention caches).
  int probed_steps_ = -1;
  double team_seconds_ = 0.0, alone_seconds_ = 0.0;
  int kept_steps_ = 0;     // run the chosen way since the last probe
  bool alone_ = false;
};

}  // namespace bcqnmt

#pragma once
// Whether the steps of a loop of similar steps (decoding) run faster on the thread team or on
// the calling thread alone, found by timing both and checked again now and then.
//
// Why: a batch-1 decoding step is ~40 loops of 1-30 us, each handed to the team's helper and
// back. On the 2-core VM this project runs on, 2 threads usually take 0.78-0.82 of the
// 1-thread time of 3-bit decoding; but in some runs the helper's share of each product runs
// ~1.6x slower than the same work on the caller, and 2 threads take 1.35-1.4x the 1-thread
// time, for the whole run (bench_decode, 2026-12-01; docs/performance.md, "Runs that go
// badly"). Pinning the threads, disabling ASLR and spinning without `pause` did not change
// that, so no fixed rule can tell the two kinds of run apart; timing the steps can.
//
// Results do not depend on the choice: under SingleThreadScope every loop keeps the split
// it has on the team (GEMM panels are cut by num_threads(), BCQ products and attention
// compute each output on one thread in a fixed order) and runs its pieces in turn.
//
// A probe times pairs of neighbouring steps, the first on the team and the second alone (a
// step grows by one cached position, so a pair compares like with like). One pair decides
// when one way is kClearRatio faster; else kProbePairs pairs are summed. The choice is then
// kept for kKeptSteps steps, and a new probe starts: the machine's state may have changed.
// One object can serve many decoding calls (a Translator keeps one), so that short
// sentences do not each pay for a probe. Thread-safe, though steps from two threads at once
// would time each other.
#include <chrono>
#include <mutex>

#include "core/execution_context.h"
#include "core/parallel.h"

namespace bcqnmt {

class ThreadChoice {
 public:
  static constexpr int kProbePairs = 3;
  static constexpr double kClearRatio = 1.25;
  // Probing costs about one step the slower way per kKeptSteps.
  static constexpr int kKeptSteps = 128;

  // Runs step() once, on the team or on this thread alone (SingleThreadScope). A step that
  // is not like its neighbours (a decoder's first step fills the cross-attention caches and
  // costs several steps' time) passes timed = false: it runs the current choice and breaks
  // off a pair it would have been compared in.
  template <class Step>
  void run(Step&& step, bool timed = true) {
    if (num_threads() <= 1) {
      step();
      return;
    }
    const bool alone = next_alone(timed);
    const auto start = std::chrono::steady_clock::now();
    if (alone) {
      const SingleThreadScope scope;
      step();
    } else {
      step();
    }
    if (timed) record(alone, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  // The current choice: true while steps run on the calling thread alone.
  bool alone() const;

 private:
  bool next_alone(bool timed);
  void record(bool alone, double seconds);

  mutable std::mutex mutex_;
  int pairs_ = 0;             // complete pairs of the current probe; kProbePairs: not probing
  bool half_ = false;         // the pair's team step is timed, its alone step is next
  double pending_team_ = 0.0;  // that team step's seconds
  double team_seconds_ = 0.0, alone_seconds_ = 0.0;  // of the probe's complete pairs
  int kept_steps_ = 0;        // run the chosen way since the last probe
  bool alone_ = false;
};

}  // namespace bcqnmt

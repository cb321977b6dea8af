#pragma once
// A team of helper threads for loops of a few microseconds (core/parallel.h decides which
// loops come here).
//
// Why a second mechanism beside TBB: a fork-join on TBB costs the caller several
// microseconds when the worker has gone to sleep (waking it, the steal, the join;
// bench/bench_parallel_for). A batch-1 decoding step is ~140 us made of ~40 loops of 1-30 us
// (the BCQ products, attention over heads), so through TBB none of them paid for a second
// thread. The team's helpers spin between jobs (with `pause`) for up to kSpinNs after their
// last one, so a hand-off while they are awake is a cache line each way; then they sleep
// (std::atomic::wait, a futex), so an idle program does not hold the cores.
//
// The caller never waits for a helper that has not started: a helper joins a job only while
// it is open, and the caller closes it once its own share is done, then waits only for the
// helpers that joined. A helper that is asleep, or descheduled on a busy machine, just misses
// the job, and the caller does all of it (as TBB's caller does when no worker steals).
//
// One job at a time: a caller that finds the team busy (another thread's loop, or a loop
// nested inside a job) gets false from try_run and runs its loop some other way.
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace bcqnmt {

class ThreadTeam {
 public:
  // How long a helper spins after a job before it sleeps, in ns. A sleeping helper misses
  // jobs: on this VM a futex wake-up of an idle vCPU took long enough that with 30 us, batch-1
  // fp32 decoding on 2 threads ran at 0.94-1.01 of its 1-thread time, and at 0.71 with
  // 300 us (bench_decode, 2026-12-01; 3-bit: 0.79 and 0.80). Short enough that a helper gives
  // its core back within a fraction of a millisecond once the loops stop.
  static constexpr int64_t kSpinNs = 300'000;

  // threads() = helpers + 1, the caller included. CoreError, with no thread left running,
  // when the system cannot start them all (its limit on threads or on memory for stacks).
  explicit ThreadTeam(int helpers);
  ~ThreadTeam();  // wakes and joins the helpers
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int threads() const { return static_cast<int>(helpers_.size()) + 1; }

  // True on a thread while it runs a job's work (the caller's share included).
  static bool inside_job();

  // Runs work() on the calling thread and on every helper that joins before the caller's
  // own work() returns, and returns once all of them have returned. So work() must claim its
  // share itself (parallel_for claims chunks from a shared counter) and may run on any
  // number of threads, from 1 to threads(). Returns false, running nothing, when the team is
  // busy. The first exception any work() throws is rethrown here after all have returned.
  template <class Work>
  bool try_run(Work& work) {
    return try_run_erased([](void* w) { (*static_cast<Work*>(w))(); }, &work);
  }

 private:
  using WorkCall = void (*)(void* work);
  bool try_run_erased(WorkCall call, void* work);
  void helper_loop();
  void stop_helpers();
  uint32_t wait_for_job(uint32_t seen);
  void run_work();

  // A job's state: its generation in the high 32 bits, kClosed, and the number of helpers
  // inside it in the low bits. Helpers join with a compare-and-swap that fails once the
  // generation has moved on or the job is closed.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  std::atomic<bool> busy_{false};
  std::atomic<uint32_t> generation_{0};  // +1 per job; helpers wait for it to change
  std::atomic<uint64_t> job_{kClosed};
  std::atomic<int> sleeping_{0};         // helpers in wait_for_job's futex wait
  std::atomic<bool> stopping_{false};
  // The current job, written by its caller before generation_ moves, read only by helpers
  // that joined it.
  WorkCall call_ = nullptr;
  void* work_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> helpers_;
};

}  // namespace bcqnmt

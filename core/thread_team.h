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
// One job at a time: a caller that finds the team busy (another thread's loop, or a loop
// nested inside a part) gets false from try_run and runs its loop some other way.
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace bcqnmt {

class ThreadTeam {
 public:
  // How long a helper spins after a job before it sleeps, in ns. Longer than the serial gaps
  // between a decoding step's loops (a few us), short enough that a helper gives its core
  // back within a fraction of a millisecond once the loops stop.
  static constexpr int64_t kSpinNs = 30'000;

  explicit ThreadTeam(int helpers);  // threads() = helpers + 1, the caller included
  ~ThreadTeam();                     // wakes and joins the helpers
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int threads() const { return static_cast<int>(helpers_.size()) + 1; }

  // True on a thread while it runs a part of some team's job (the caller's part included).
  static bool inside_part();

  // Runs part(p) for p in [0, parts), parts <= threads(): p = 0 on the calling thread, p on
  // helper p - 1, and returns when every part has ended. Returns false, running nothing, when
  // the team is busy. The first exception a part throws is rethrown here after all parts end.
  template <class Part>
  bool try_run(int parts, Part& part) {
    return try_run_erased(parts, [](void* p, int index) { (*static_cast<Part*>(p))(index); }, &part);
  }

 private:
  using PartCall = void (*)(void* part, int index);
  bool try_run_erased(int parts, PartCall call, void* part);
  void helper_loop(int index);
  uint32_t wait_for_job(uint32_t seen);
  void run_part(int index);

  std::atomic<bool> busy_{false};
  std::atomic<uint32_t> generation_{0};  // +1 per job; helpers wait for it to change
  std::atomic<int> running_{0};          // helpers still in the current job
  std::atomic<int> sleeping_{0};         // helpers in wait_for_job's futex wait
  std::atomic<bool> stopping_{false};
  // The current job, written by its caller before generation_ moves.
  PartCall call_ = nullptr;
  void* part_ = nullptr;
  int parts_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> helpers_;
};

}  // namespace bcqnmt

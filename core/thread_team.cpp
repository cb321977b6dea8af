#include "core/thread_team.h"

#include <immintrin.h>  // _mm_pause

#include <chrono>
#include <string>
#include <system_error>

#include "core/error.h"

namespace bcqnmt {

namespace {

thread_local bool t_inside_job = false;

// One step of a spin-wait: a `pause`, and every kPausesPerYield steps a sched_yield, so that
// a waiter that shares a core with the thread it waits for does not hold that core for the
// rest of its time slice. Without the yield, some 2-thread bench_decode runs on the 2-core VM
// took 1.1-1.5x the 1-thread time; with it, 0.86 (2026-12-01). With a core each, the yield
// returns at once.
constexpr int kPausesPerYield = 128;
void spin_pause(int i) {
  _mm_pause();
  if (i % kPausesPerYield == 0) std::this_thread::yield();
}

}  // namespace

bool ThreadTeam::inside_job() { return t_inside_job; }

ThreadTeam::ThreadTeam(int helpers) {
  try {
    for (int i = 0; i < helpers; ++i) helpers_.emplace_back([this] { helper_loop(); });
  } catch (const std::system_error& e) {  // the system's limit on threads or memory: stop those started
    const size_t started = helpers_.size();
    stop_helpers();
    throw CoreError("cannot start a team of " + std::to_string(helpers + 1) + " threads: thread " +
                    std::to_string(started + 2) + " failed (" + e.what() + ")");
  }
}

ThreadTeam::~ThreadTeam() { stop_helpers(); }

void ThreadTeam::stop_helpers() {
  stopping_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

void ThreadTeam::run_work() {
  t_inside_job = true;
  try {
    call_(work_);
    t_inside_job = false;
  } catch (...) {
    t_inside_job = false;
    const std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

bool ThreadTeam::try_run_erased(WorkCall call, void* work) {
  bool idle = false;
  if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) return false;
  call_ = call;
  work_ = work;
  error_ = nullptr;
  const uint32_t g = generation_.load(std::memory_order_relaxed) + 1;
  job_.store(uint64_t{g} << 32);  // open, nobody inside
  // seq_cst with the helpers' sleeping_ increment and generation_ check: either a helper
  // sees the new generation before it sleeps, or this sees it asleep and wakes it.
  generation_.store(g);
  if (sleeping_.load() > 0) generation_.notify_all();
  run_work();
  // Close the job, then wait for the helpers inside it: all of its work has been claimed.
  job_.fetch_or(kClosed);
  for (int i = 1; (job_.load(std::memory_order_acquire) & (kClosed - 1)) != 0; ++i) spin_pause(i);
  const std::exception_ptr error = error_;
  busy_.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
  return true;
}

uint32_t ThreadTeam::wait_for_job(uint32_t seen) {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNs);
  for (int i = 1;; ++i) {
    const uint32_t g = generation_.load(std::memory_order_acquire);
    if (g != seen) return g;
    spin_pause(i);
    if (i % kPausesPerYield == 0 && std::chrono::steady_clock::now() > spin_until) break;
  }
  sleeping_.fetch_add(1);
  uint32_t g = generation_.load();
  while (g == seen) {
    generation_.wait(seen);
    g = generation_.load();
  }
  sleeping_.fetch_sub(1);
  return g;
}

void ThreadTeam::helper_loop() {
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_job(seen);
    if (stopping_.load()) return;
    // Join job `seen` if it is still open: one more inside, same generation, not closed.
    uint64_t state = job_.load();
    while ((state >> 32) == seen && !(state & kClosed))
      if (job_.compare_exchange_weak(state, state + 1)) {
        run_work();
        job_.fetch_sub(1, std::memory_order_release);
        break;
      }
  }
}

}  // namespace bcqnmt

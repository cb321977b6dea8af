#include "core/thread_team.h"

#include <immintrin.h>  // _mm_pause

#include <chrono>

namespace bcqnmt {

namespace {
thread_local bool t_inside_part = false;
}  // namespace

bool ThreadTeam::inside_part() { return t_inside_part; }

// One step of a spin-wait: a `pause`, and every kPausesPerYield steps a sched_yield. The
// yield matters when the scheduler has put the waiting thread on the same core as the one
// it waits for (seen on the 2-core VM: 2-thread decoding then ran 1.5x slower than on one
// thread, the waiter holding the core for the rest of its time slice); with a core each,
// it returns at once.
constexpr int kPausesPerYield = 128;
void pause(int i) {
  _mm_pause();
  if (i % kPausesPerYield == 0) std::this_thread::yield();
}

ThreadTeam::ThreadTeam(int helpers) {
  for (int i = 0; i < helpers; ++i) helpers_.emplace_back([this, i] { helper_loop(i); });
}

ThreadTeam::~ThreadTeam() {
  stopping_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

void ThreadTeam::run_part(int index) {
  t_inside_part = true;
  try {
    call_(part_, index);
    t_inside_part = false;
  } catch (...) {
    t_inside_part = false;
    const std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

bool ThreadTeam::try_run_erased(int parts, PartCall call, void* part) {
  bool idle = false;
  if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) return false;
  call_ = call;
  part_ = part;
  parts_ = parts;
  error_ = nullptr;
  running_.store(static_cast<int>(helpers_.size()), std::memory_order_relaxed);
  // seq_cst with the helpers' sleeping_ increment and generation_ check: either a helper
  // sees the new generation before it sleeps, or this sees it asleep and wakes it.
  generation_.fetch_add(1);
  if (sleeping_.load() > 0) generation_.notify_all();
  run_part(0);
  for (int i = 1; running_.load(std::memory_order_acquire) != 0; ++i) pause(i);
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
    pause(i);
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

void ThreadTeam::helper_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_job(seen);
    if (stopping_.load()) return;
    if (index + 1 < parts_) run_part(index + 1);
    running_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace bcqnmt

// Threads in decoding (issue 17). A batch-1 decoding step is ~40 loops of 1-30 us; through
// TBB, whose idle worker must be woken for each, a second thread made it slower. Loops now
// run on a team whose helpers spin between jobs (core/thread_team.h, core/parallel.h).
// Speed is measured in bench/ (bench_decode's of_one_thread, bench_parallel_for); these
// tests check what the team must guarantee without timing anything: short loops really
// reach the helper, and not TBB's workers; results do not depend on the thread count or on
// which thread ran a chunk, or on whether ThreadChoice ran a step alone; exceptions, nested
// loops and loops from two threads at once behave.
#include <doctest/doctest.h>

#include <tbb/task_scheduler_observer.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/parallel.h"
#include "core/thread_choice.h"
#include "nn/decoding.h"
#include "quant/bcq_model.h"
#include "reference_width_models.h"

using namespace bcqnmt;

namespace {

// How many times a TBB worker joined this thread's arena while f ran.
template <class F>
int tbb_worker_entries(F&& f) {
  struct Observer : tbb::task_scheduler_observer {
    Observer() { observe(true); }
    ~Observer() override { observe(false); }
    void on_scheduler_entry(bool is_worker) override {
      if (is_worker) ++entries;
    }
    std::atomic<int> entries{0};
  };
  Observer observer;
  f();
  return observer.entries.load();
}

float busy(int64_t iterations) {
  float a = 1.0f;
  for (int64_t i = 0; i < iterations; ++i) a = a * 0.999999f + 1e-7f;
  return a;
}

// The threads that ran chunks of two-chunk loops of ~5 us each, run until two threads have
// been seen or for `seconds`. Not a fixed number of loops: with the other core busy (ctest
// -j2) the scheduler may keep the helper off it for a while, and the caller then runs both
// chunks itself, which is the point of claiming chunks.
std::set<std::thread::id> threads_of_short_loops(double seconds) {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  std::vector<float> sink(2);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (seen.size() < 2 && std::chrono::steady_clock::now() < end)
    parallel_for(2, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) sink[static_cast<size_t>(i)] = busy(5'000);
      const std::lock_guard<std::mutex> lock(mutex);
      seen.insert(std::this_thread::get_id());
    });
  return seen;
}

}  // namespace

TEST_CASE("loops of a few microseconds reach the team's helper on 2 threads, and no TBB worker") {
  set_num_threads(2);
  std::set<std::thread::id> seen;
  CHECK(tbb_worker_entries([&] { seen = threads_of_short_loops(10.0); }) == 0);
  CHECK(seen.size() == 2);
  CHECK(seen.count(std::this_thread::get_id()) == 1);
  set_num_threads(1);
  CHECK(threads_of_short_loops(0.05) == std::set<std::thread::id>{std::this_thread::get_id()});
  set_num_threads(0);
}

// BCQ products are computed per 16-row tile and attention per head, whichever thread runs
// them: the bits cannot depend on the thread count. fp32 products are split into column
// panels on 2 threads (core/gemm.cpp), and sgemm sums a panel's edge tiles in another
// order, so fp32 agrees to rounding.
namespace {

// The decoding tests' models (fp32 and its 3-bit BCQ twin) and source sentence.
struct DecodingModels : test::ReferenceWidthModels {
  DecodingModels() : ReferenceWidthModels(11) {}
  IndexTensor source{{1, 9}, {kStartId, 40, 41, 42, 43, 44, 45, 46, kEndId}};
};

}  // namespace

// BCQ products are computed per 16-row tile and attention per head, whichever thread runs
// them: the bits cannot depend on the thread count. fp32 products are split into column
// panels on 2 threads (core/gemm.cpp), and sgemm sums a panel's edge tiles in another
// order, so fp32 agrees to rounding.
TEST_CASE("batch-1 greedy decoding on 1 and 2 threads: the same BCQ logits, fp32 to rounding") {
  const DecodingModels m;
  set_num_threads(1);
  const auto bcq_one = greedy_logits_cached(*m.packed.model, m.source, 40);
  const auto fp32_one = greedy_logits_cached(m.model, m.source, 40);
  set_num_threads(2);
  for (int run = 0; run < 3; ++run) {
    CHECK(greedy_logits_cached(*m.packed.model, m.source, 40) == bcq_one);
    const auto fp32_two = greedy_logits_cached(m.model, m.source, 40);
    REQUIRE(fp32_two.size() == fp32_one.size());
    for (size_t step = 0; step < fp32_one.size(); ++step)
      for (size_t v = 0; v < fp32_one[step].size(); ++v)
        CHECK(fp32_two[step][v] == doctest::Approx(fp32_one[step][v]).epsilon(1e-5));
  }
  set_num_threads(0);
}

// ThreadChoice may run any decoding step alone (core/thread_choice.h); that must not change
// a bit, fp32 included: a loop keeps the split it has on the team and runs its pieces in turn.
TEST_CASE("under SingleThreadScope loops run on the caller alone, and decoding gives the same bits") {
  set_num_threads(2);
  {
    const SingleThreadScope alone;
    CHECK(threads_of_short_loops(0.05) == std::set<std::thread::id>{std::this_thread::get_id()});
  }
  const DecodingModels m;
  // On the team, ThreadChoice runs at least the first step and the probe's team steps there.
  const auto bcq_team = greedy_logits_cached(*m.packed.model, m.source, 40);
  const auto fp32_team = greedy_logits_cached(m.model, m.source, 40);
  const SingleThreadScope alone;
  CHECK(greedy_logits_cached(*m.packed.model, m.source, 40) == bcq_team);
  CHECK(greedy_logits_cached(m.model, m.source, 40) == fp32_team);
  set_num_threads(0);
}

namespace {

// A step that sleeps team_ms on the team and alone_ms under SingleThreadScope, and counts the
// steps that ran alone.
struct SleepingStep {
  double team_ms, alone_ms;
  int* alone_steps;
  void operator()() const {
    const bool alone = execution_context().single_thread;
    *alone_steps += alone ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(alone ? alone_ms : team_ms));
  }
};

}  // namespace

TEST_CASE("ThreadChoice runs steps the faster way, keeps the choice, and probes again") {
  set_num_threads(2);
  ThreadChoice choice;
  int alone_steps = 0;
  // An untimed step (a decoder's first) runs the current choice, the team, however slow.
  choice.run(SleepingStep{30.0, 0.0, &alone_steps}, /*timed=*/false);
  CHECK(alone_steps == 0);
  for (int i = 0; i < 2 * ThreadChoice::kProbePairs && !choice.alone(); ++i)
    choice.run(SleepingStep{4.0, 1.0, &alone_steps});
  CHECK(choice.alone());
  alone_steps = 0;
  for (int i = 0; i < ThreadChoice::kKeptSteps; ++i) choice.run(SleepingStep{0.0, 0.0, &alone_steps});
  CHECK(alone_steps == ThreadChoice::kKeptSteps);  // kept for kKeptSteps steps
  // The probe again, where the team is faster. Its first pair is broken off by an untimed
  // step: counted, the slow team step (30 ms against 4) would have chosen "alone".
  choice.run(SleepingStep{30.0, 4.0, &alone_steps});
  choice.run(SleepingStep{0.0, 0.0, &alone_steps}, /*timed=*/false);
  for (int i = 0; i < 2 * ThreadChoice::kProbePairs; ++i) choice.run(SleepingStep{1.0, 4.0, &alone_steps});
  CHECK_FALSE(choice.alone());
  alone_steps = 0;
  for (int i = 0; i < 10; ++i) choice.run(SleepingStep{0.0, 0.0, &alone_steps});
  CHECK(alone_steps == 0);
  set_num_threads(1);  // one thread: nothing to choose
  ThreadChoice single;
  for (int i = 0; i < 8; ++i) single.run(SleepingStep{0.0, 0.0, &alone_steps});
  CHECK(alone_steps == 0);
  set_num_threads(0);
}

TEST_CASE("a chunk's exception reaches the caller, and the team still works after it") {
  set_num_threads(2);
  for (int call = 0; call < 50; ++call)
    CHECK_THROWS_AS(parallel_for(2, 1,
                                 [&](int64_t lo, int64_t) {
                                   busy(2'000);
                                   if (lo == 1) throw std::runtime_error("chunk 1");
                                 }),
                    std::runtime_error);
  std::atomic<int64_t> total{0};
  parallel_for(1000, 10, [&](int64_t lo, int64_t hi) { total += hi - lo; });
  CHECK(total.load() == 1000);
  set_num_threads(0);
}

TEST_CASE("a loop inside a chunk runs on that chunk's thread, whole") {
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  parallel_for(8, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const std::thread::id outer = std::this_thread::get_id();
      parallel_for(100, 1, [&](int64_t a, int64_t b) {
        CHECK(std::this_thread::get_id() == outer);
        total += b - a;
      });
    }
  });
  CHECK(total.load() == 800);
  set_num_threads(0);
}

TEST_CASE("loops started from two threads at once all run whole (one on the team, one on TBB)") {
  set_num_threads(2);
  std::atomic<int64_t> totals[2] = {0, 0};
  auto caller = [&](int who) {
    for (int call = 0; call < 300; ++call)
      parallel_for(64, 4, [&](int64_t lo, int64_t hi) {
        busy(200);
        totals[who] += hi - lo;
      });
  };
  std::thread other(caller, 1);
  caller(0);
  other.join();
  CHECK(totals[0].load() == 300 * 64);
  CHECK(totals[1].load() == 300 * 64);
  set_num_threads(0);
}

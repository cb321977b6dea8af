// SIGKILL during checkpoint writes never leaves an unreadable latest.ckpt.
//
// A child process writes large checkpoints through CheckpointKeeper in a loop; the parent
// kills it (SIGKILL: no handler, no cleanup) 20 times: in odd rounds after a random delay
// (anywhere: building, serializing, writing, renaming), in even rounds at a random moment
// after a temporary file has appeared (inside the write or fsync, which random delays
// alone hit only about a third of the time). After every
// kill latest.ckpt and best.ckpt must load, and hold one whole checkpoint: every value in
// it equals the value the child derived from that checkpoint's step, so a file mixing two
// writes would be caught too.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/random.h"
#include "optim/checkpoint_keeper.h"

using namespace bcqnmt;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kParameterFloats = 1024 * 1024;  // x3 with the moments: 12 MB a file

float value_for_step(int64_t step) { return static_cast<float>(step % 1000003) * 0.5f; }

Checkpoint checkpoint_for_step(int64_t step) {
  Checkpoint c;
  const float x = value_for_step(step);
  c.parameters = {{"weight", Tensor::full({kParameterFloats / 2, 2}, x)}, {"bias", Tensor::full({16}, x)}};
  for (const auto& p : c.parameters) {
    c.optimizer.first_moment.push_back(Tensor::full(p.value.shape(), x));
    c.optimizer.second_moment.push_back(Tensor::full(p.value.shape(), x));
  }
  c.optimizer.step = step;
  c.step = step;
  c.config_json = "{}";
  c.metrics["score"] = static_cast<double>(step);  // always improves: best.ckpt is rewritten too
  return c;
}

// The checkpoint at `path` loads and is internally consistent; returns its step.
int64_t check_whole(const fs::path& path) {
  const Checkpoint c = load_checkpoint(path);
  const float x = value_for_step(c.step);
  bool all_equal = c.optimizer.step == c.step;
  auto same = [&](const Tensor& t) {
    for (int64_t i = 0; i < t.numel(); ++i) all_equal = all_equal && t.data()[i] == x;
  };
  for (size_t k = 0; k < c.parameters.size(); ++k) {
    same(c.parameters[k].value);
    same(c.optimizer.first_moment[k]);
    same(c.optimizer.second_moment[k]);
  }
  CHECK_MESSAGE(all_equal, path.string() << " mixes two checkpoints (step " << c.step << ")");
  return c.step;
}

bool has_temporary_file(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("SIGKILL at random moments during checkpoint writes never leaves an unreadable latest") {
  std::string pattern = (fs::temp_directory_path() / "bcqnmt_kill_XXXXXX").string();
  const fs::path dir = ::mkdtemp(pattern.data());
  const fs::path run = dir / "run";
  CheckpointKeeper keeper(run, "score", MetricGoal::maximize);

  // The first save, timed: kill delays are spread over about two whole saves.
  const auto t0 = std::chrono::steady_clock::now();
  keeper.save(checkpoint_for_step(0));
  const auto save_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("one save (latest + best, 12 MB each) takes " << save_us / 1000 << " ms");

  Rng rng(2026);
  int kills_mid_write = 0;
  int64_t last_step = 0;
  for (int round = 1; round <= 20; ++round) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int64_t i = 0; i < 100000; ++i) keeper.save(checkpoint_for_step(round * 100000 + i));
      ::_exit(0);
    }
    if (round % 2 == 1) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng.below(static_cast<uint64_t>(2 * save_us + 1))));
    } else {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!has_temporary_file(run) && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::this_thread::sleep_for(std::chrono::microseconds(rng.below(5000)));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));

    // A leftover temporary file means the kill landed inside a write.
    kills_mid_write += has_temporary_file(run);
    for (const auto& entry : fs::directory_iterator(run))
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(entry.path());

    int64_t step = -1;
    CHECK_NOTHROW(step = check_whole(keeper.latest_path()));
    CHECK_NOTHROW(check_whole(keeper.best_path()));
    CHECK(step >= last_step);  // never goes back to an older checkpoint
    last_step = step;
  }
  MESSAGE(kills_mid_write << " of 20 kills interrupted a write (a temporary file was left)");
  CHECK(kills_mid_write >= 3);  // the even rounds aim inside writes; none would test nothing
  fs::remove_all(dir);
}

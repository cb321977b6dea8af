// Exact resume: training N steps in one go, or stopping (by a finished phase or by SIGINT
// in the middle of an epoch) and resuming, gives bit-identical parameters (one thread).
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "optim/checkpoint.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

TEST_CASE("resume after a finished epoch and after SIGINT mid-epoch is bit-identical; SIGTERM exits 143") {
  ScratchDir dir;
  const auto data = dir.path / "data";
  make_synthetic_corpus(data, 3000);
  write_text(dir.path / "config.json", R"({
    "model": {"num_layers": 2, "d_model": 48, "dff": 128, "num_heads": 4, "key_dim": 12, "dropout_rate": 0.1},
    "training": {"epochs": 2, "batch_size": 16, "shuffle_buffer": 500, "warmup_steps": 50, "seed": 5}
  })");
  const std::string common = " --threads 1 --data " + data.string() + " --config " + (dir.path / "config.json").string();
  REQUIRE(run_bcqnmt("vocab --data " + data.string() + " --run " + (dir.path / "a").string()).status == 0);
  for (const char* run : {"b", "c", "d"}) {  // the same vocabularies, so the runs are comparable
    std::filesystem::create_directories(dir.path / run);
    for (const char* file : {"vocab.pt.txt", "vocab.en.txt"})
      std::filesystem::copy_file(dir.path / "a" / file, dir.path / run / file);
  }

  // a: two epochs in one go.
  const CommandResult a = run_bcqnmt("pretrain --run " + (dir.path / "a").string() + common);
  INFO(a.err);
  REQUIRE(a.status == 0);
  const auto reference = parameters_of(dir.path / "a" / "pretrain" / "latest.ckpt");

  // b: one epoch, stop, resume for the second.
  REQUIRE(run_bcqnmt("pretrain --epochs 1 --run " + (dir.path / "b").string() + common).status == 0);
  const CommandResult b = run_bcqnmt("pretrain --run " + (dir.path / "b").string() + common);
  CHECK(b.out.find("resuming") != std::string::npos);
  CHECK(parameters_of(dir.path / "b" / "pretrain" / "latest.ckpt") == reference);

  // Starts pretraining in run `name`, sends `signal` as soon as the first progress line of
  // epoch 1 appears, and returns the exit status; the log must say the checkpoint was saved.
  auto interrupted_run = [&](const std::string& name, int signal) {
    const auto log = dir.path / (name + ".log");
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string cmd = std::string(BCQNMT_BINARY) + " pretrain --run " + (dir.path / name).string() + common +
                              " > " + log.string() + " 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (slurp(log).find("ETA") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid, signal);
    int raw = 0;
    waitpid(pid, &raw, 0);
    INFO(slurp(log));
    CHECK(slurp(log).find("interrupted; saved") != std::string::npos);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  };
  // The shell's statuses for the two signals: 128 + 2 and 128 + 15.
  CHECK(interrupted_run("d", SIGTERM) == 143);
  // c: SIGINT mid-epoch, then resume.
  CHECK(interrupted_run("c", SIGINT) == 130);
  const CommandResult c = run_bcqnmt("pretrain --run " + (dir.path / "c").string() + common);
  REQUIRE(c.status == 0);
  CHECK(c.out.find("resuming") != std::string::npos);
  CHECK(parameters_of(dir.path / "c" / "pretrain" / "latest.ckpt") == reference);
}

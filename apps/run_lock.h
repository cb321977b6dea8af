#pragma once
// One writer per run directory. Two commands writing one run at once (two `pretrain`s, a
// `quantize` beside a `pipeline`) would train the same epochs twice, interleave checkpoints
// and log every metrics record twice. So a command that writes a run holds RUN/.lock, an
// exclusive flock(2) that the kernel drops when the process ends, however it ends: a killed
// command leaves no stale lock to clean up. Commands that only read a run (translate, info,
// export, serve, report) do not hold it: atomic writes and the manifest commit
// (apps/run_manifest.h) keep what they read whole. They take it only for the moment of
// finishing a commit a kill interrupted (repair_run), through if_free.
#include <filesystem>
#include <functional>
#include <string>

namespace bcqnmt {

class RunLock {
 public:
  // Takes the lock of `run` for `command` (e.g. "pretrain"). Nothing to lock when the
  // directory does not exist yet (the command creates it or fails on a missing file) or when
  // `writer` is false (ranks > 0 of a data-parallel job; rank 0 writes and holds it). Throws
  // AppError naming the command and process that hold it ("run directory R is in use by
  // `bcqnmt pretrain` (pid 4242)...").
  RunLock(const std::filesystem::path& run, const std::string& command, bool writer = true);
  ~RunLock();
  // Calls `f` holding the lock of `run`: at once when this process holds it, else when it
  // is free (taken for the call), and not at all when another process holds it. Returns
  // whether `f` ran.
  static bool if_free(const std::filesystem::path& run, const std::function<void()>& f);
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
  std::filesystem::path run_;  // as held_runs() records it, while fd_ holds the lock
};

}  // namespace bcqnmt

#include "apps/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "apps/app_error.h"

namespace bcqnmt {

namespace {

// The runs this process holds the lock of: a second flock(2) on a new descriptor would be
// refused even within the process.
std::vector<std::filesystem::path>& held_runs() {
  static std::vector<std::filesystem::path> runs;
  return runs;
}

std::filesystem::path lock_key(const std::filesystem::path& run) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(run, ec);
  return ec ? run : canonical;
}

}  // namespace

RunLock::RunLock(const std::filesystem::path& run, const std::string& command, bool writer) {
  if (!writer || !std::filesystem::is_directory(run)) return;
  const std::filesystem::path path = run / ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw AppError("cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int reason = errno;
    char holder[256] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "another command";
    while (!who.empty() && who.back() == '\n') who.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (reason != EWOULDBLOCK) throw AppError("cannot lock " + path.string() + ": " + std::strerror(reason));
    throw AppError("run directory " + run.string() + " is in use by " + who +
                   "; wait for it to end (one command writes a run at a time)");
  }
  // Who holds it, for the message above. Informational only (the flock is the lock), so a
  // failed write is no error: a second command would then say "another command".
  const std::string holder = "`bcqnmt " + command + "` (pid " + std::to_string(::getpid()) + ")\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, holder.data(), holder.size(), 0);
  run_ = lock_key(run);
  held_runs().push_back(run_);
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  auto& runs = held_runs();
  if (const auto it = std::find(runs.begin(), runs.end(), run_); it != runs.end()) runs.erase(it);
  ::close(fd_);  // releases the flock
}

bool RunLock::if_free(const std::filesystem::path& run, const std::function<void()>& f) {
  const auto& runs = held_runs();
  if (std::find(runs.begin(), runs.end(), lock_key(run)) != runs.end()) {
    f();
    return true;
  }
  if (!std::filesystem::is_directory(run)) return false;
  const int fd = ::open((run / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  try {
    f();
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return true;
}

}  // namespace bcqnmt

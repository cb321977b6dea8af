#include "apps/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "apps/app_error.h"

namespace bcqnmt {

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
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace bcqnmt

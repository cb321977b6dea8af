#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/error.h"

namespace bcqnmt {

namespace {

std::atomic<uint64_t> g_temp_counter{0};

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
  throw CoreError("cannot write " + path.string() + ": " + what + ": " + std::strerror(err));
}

// fsync through a fresh descriptor: on Linux it flushes every dirty page of the file, not
// only those written through that descriptor.
void fsync_path(const std::filesystem::path& path, int flags, const std::filesystem::path& target,
                const std::string& what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(target, "open " + what, errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(target, "fsync " + what, err);
  }
  ::close(fd);
}

// The file a chain of symbolic links ends at (at most 40 links, Linux's own limit); `path`
// itself when it is not a link. The end need not exist yet: a dangling link is written through.
std::filesystem::path follow_links(std::filesystem::path path) {
  std::error_code error;
  for (int links = 0; std::filesystem::is_symlink(std::filesystem::symlink_status(path, error)); ++links) {
    if (links == 40) fail(path, "follow symbolic links", ELOOP);
    const std::filesystem::path target = std::filesystem::read_symlink(path, error);
    if (error) fail(path, "read symbolic link", error.value());
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
  return path;
}

// A FIFO or device: opened and written as it is (no temporary file, no rename).
void write_through(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, "open", errno);
  write(out);
  out.close();
  if (!out) fail(path, "write", errno);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

void write_file_atomically(const std::filesystem::path& named, const std::function<void(std::ostream&)>& write) {
  std::error_code no_file;
  const std::filesystem::file_status status = std::filesystem::status(named, no_file);  // follows links
  if (std::filesystem::is_directory(status)) throw CoreError("cannot write " + named.string() + ": it is a directory");
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) return write_through(named, write);
  const std::filesystem::path path = follow_links(named);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path temp =
      path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_temp_counter++);
  try {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "create temporary file " + temp.string(), errno);
    write(out);
    out.close();
    if (!out) fail(path, "write temporary file " + temp.string(), errno);
    fsync_path(temp, O_RDONLY, path, "temporary file");
    if (::rename(temp.c_str(), path.c_str()) != 0) fail(path, "rename " + temp.string(), errno);
    fsync_path(dir, O_RDONLY | O_DIRECTORY, path, "directory " + dir.string());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
}

}  // namespace bcqnmt

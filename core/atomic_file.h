#pragma once
// Crash-safe file replacement: a reader of `path` sees either the old file or the complete
// new one, never a torn mix, even if the process is killed (SIGKILL, power loss) mid-write.
//
// Recipe (the usual POSIX one): write a temporary file in the same directory (rename is
// atomic only within one file system), flush and fsync it, rename it over the target, then
// fsync the directory so the rename itself is durable. Checkpoints, vocabulary files and
// .bcq files are written this way. A killed writer can leave a `<name>.tmp.<pid>.<n>` file
// behind; the target is never touched until the rename.
//
// What `path` names decides where the bytes go, as cp and shell redirection do: a symbolic
// link is followed (the link stays, the file it points to is replaced); a FIFO or a device
// (`-o /dev/null`, `-o /dev/stdout`) cannot be replaced by a rename without destroying the
// node, so it is written straight through; a directory is refused.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace bcqnmt {

// Throws CoreError naming the path and the system's reason ("No space left on device", "is a
// directory").
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

}  // namespace bcqnmt

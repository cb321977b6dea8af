#pragma once
// Runs the real bcqnmt binary as a user would, capturing exit status, stdout and stderr.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_data_files.h"

namespace bcqnmt::test {

struct CommandResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `command` is a shell command line (e.g. mpirun with the binary); `stdin_text` is fed in.
inline CommandResult run_command(const std::string& command_line, const std::string& stdin_text = "") {
  ScratchDir io;
  write_text(io.path / "in", stdin_text);
  const std::string command = command_line + " < " + (io.path / "in").string() + " > " +
                              (io.path / "out").string() + " 2> " + (io.path / "err").string();
  const int raw = std::system(command.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(io.path / "out");
  r.err = slurp(io.path / "err");
  return r;
}

// `args` is pasted into a shell command line after the binary; `stdin_text` is fed in.
inline CommandResult run_bcqnmt(const std::string& args, const std::string& stdin_text = "") {
  return run_command(std::string(BCQNMT_BINARY) + " " + args, stdin_text);
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace bcqnmt::test

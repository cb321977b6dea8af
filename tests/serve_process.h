#pragma once
// A program running in the background for tests of servers (`bcqnmt serve`, chromedriver):
// started with posix_spawn, its output in files, stopped by a signal with its exit status.
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "run_binary.h"

extern char** environ;

namespace bcqnmt::test {

class BackgroundProcess {
 public:
  // argv[0] is the program's path; stdout and stderr go to files in `io`.
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& io) : out_(io / "out"), err_(io / "err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~BackgroundProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  bool started() const { return pid_ > 0; }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

  // The first match of `pattern`'s group 1 in stdout, waiting up to `timeout` for it; "" if
  // it never came (or the process ended first).
  std::string wait_for_output(const std::regex& pattern, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = out();
      if (std::regex_search(text, m, pattern)) return m[1];
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }

  // Sends `signal` and waits up to `timeout` for the exit: the exit status (128 + the signal
  // when it killed the process), or -1 if it was still running (then it is killed).
  int stop(int signal, std::chrono::seconds timeout) {
    if (!exited_) kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited_) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::filesystem::path out_, err_;
};

// `bcqnmt serve ARGS --port 0` in the background, and the port it took (0 if it failed).
struct ServeProcess {
  ScratchDir io;
  BackgroundProcess process;
  int port = 0;

  explicit ServeProcess(const std::vector<std::string>& args) : process(with_binary(args), io.path) {
    const std::string p = process.wait_for_output(std::regex("on http://127\\.0\\.0\\.1:([0-9]+)/"), std::chrono::seconds(60));
    port = p.empty() ? 0 : std::stoi(p);
  }

 private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), {BCQNMT_BINARY, "--threads", "1", "serve", "--port", "0"});
    return args;
  }
};

}  // namespace bcqnmt::test

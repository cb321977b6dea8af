#include "apps/log_file.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>

#include "apps/app_error.h"

namespace bcqnmt {

namespace {
// "[2026-11-30 19:04:05] ", UTC, so that logs of machines in different zones line up.
std::string timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "[%Y-%m-%d %H:%M:%S] ", &utc);
  return text;
}
}  // namespace

class CommandLog::Copy : public std::streambuf {
 public:
  Copy(std::streambuf* original, std::ofstream& file) : original_(original), file_(file) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    copy(&ch, 1);
    return original_->sputc(ch);
  }
  std::streamsize xsputn(const char* text, std::streamsize n) override {
    copy(text, n);
    return original_->sputn(text, n);
  }
  int sync() override { return original_->pubsync(); }

 public:
  // A last line the command left unfinished still reaches the file.
  void finish() {
    if (!line_.empty()) copy("\n", 1);
  }

 private:

 private:
  // Lines are completed here: "\r" starts the line again (a redraw), "\033[K" is dropped.
  void copy(const char* text, std::streamsize n) {
    for (std::streamsize i = 0; i < n; ++i) {
      const char ch = text[i];
      if (ch == '\r') {
        line_.clear();
      } else if (ch == '\n') {
        file_ << timestamp() << line_ << '\n' << std::flush;
        line_.clear();
      } else {
        line_ += ch;
        if (line_.size() >= 3 && line_.compare(line_.size() - 3, 3, "\033[K") == 0) line_.resize(line_.size() - 3);
      }
    }
  }
  std::streambuf* original_;
  std::ofstream& file_;
  std::string line_;
};

CommandLog::CommandLog(const std::string& path, const std::string& command_line)
    : file_(path, std::ios::app), original_out_(std::cout.rdbuf()), original_err_(std::cerr.rdbuf()) {
  if (!file_) throw AppError("--log " + path + ": cannot open for appending: " + std::strerror(errno));
  file_ << timestamp() << "== " << command_line << '\n' << std::flush;
  out_copy_ = std::make_unique<Copy>(original_out_, file_);
  err_copy_ = std::make_unique<Copy>(original_err_, file_);
  std::cout.rdbuf(out_copy_.get());
  std::cerr.rdbuf(err_copy_.get());
}

CommandLog::~CommandLog() {
  std::cout.flush();
  std::cerr.flush();
  out_copy_->finish();
  err_copy_->finish();
  std::cout.rdbuf(original_out_);
  std::cerr.rdbuf(original_err_);
}

}  // namespace bcqnmt

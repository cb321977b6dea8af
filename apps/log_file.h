#pragma once
// --log FILE: a copy of everything a command prints, on stdout and stderr, appended to FILE
// with a timestamp per line, as Marian's --log and fairseq's --log-file keep one. The
// terminal still gets every byte as before; the file gets one line per finished line:
// a progress bar redrawn in place with "\r" leaves only its last state, and the terminal
// control sequence "\033[K" is left out. Appending (not replacing) keeps a resumed run's
// history in one file.
#include <fstream>
#include <memory>
#include <streambuf>
#include <string>

namespace bcqnmt {

class CommandLog {
 public:
  // Opens `path` for appending and starts copying std::cout and std::cerr into it; throws
  // AppError naming the file when it cannot be opened. Writes a header line with the
  // command line.
  CommandLog(const std::string& path, const std::string& command_line);
  // Restores std::cout's and std::cerr's own buffers.
  ~CommandLog();
  CommandLog(const CommandLog&) = delete;
  CommandLog& operator=(const CommandLog&) = delete;

 private:
  class Copy;  // a streambuf that forwards to the original and copies lines to the file
  std::ofstream file_;
  std::unique_ptr<Copy> out_copy_, err_copy_;
  std::streambuf* original_out_;
  std::streambuf* original_err_;
};

}  // namespace bcqnmt

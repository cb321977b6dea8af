#pragma once
#include <stdexcept>

namespace bcqnmt {

// The start of every diagnostic line on stderr, as compilers and git write them:
// "bcqnmt: error: ..." (main() prints errors from the exceptions below), and the warnings and
// notes a command prints before it goes on.
inline constexpr const char* kErrorLine = "bcqnmt: error: ";
inline constexpr const char* kWarningLine = "bcqnmt: warning: ";
inline constexpr const char* kNoteLine = "bcqnmt: note: ";

// A problem the user can fix at run time (a missing or corrupt file, a run directory in the
// wrong state, a bad config). main() prints it as one line on stderr and exits with status
// 1, like every other module's error type.
class AppError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command line that cannot mean anything, found after parsing (flags that contradict each
// other, a reserved name): exit status 2, like the parse errors CLI11 reports.
class UsageError : public AppError {
 public:
  using AppError::AppError;
};

}  // namespace bcqnmt

#pragma once
#include <stdexcept>

namespace bcqnmt {

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

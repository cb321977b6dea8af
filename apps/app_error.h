#pragma once
#include <stdexcept>

namespace bcqnmt {

// A problem the user can fix (bad flag, missing run file). main() prints it as one line on
// stderr and exits with status 2, like every other module's error type.
class AppError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bcqnmt

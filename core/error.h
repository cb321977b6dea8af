#pragma once
// The one exception type that crosses core/'s boundary. Messages are written for the user
// ("matmul: inner dimensions differ, [64, 128] x [256, 10]"), not for a debugger.
#include <stdexcept>
#include <string>

namespace bcqnmt {

class CoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

#define BCQNMT_CHECK(cond, msg)                      \
  do {                                               \
    if (!(cond)) throw ::bcqnmt::CoreError(msg);     \
  } while (0)

}  // namespace bcqnmt

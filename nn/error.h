#pragma once
#include <stdexcept>

namespace bcqnmt {

// The exception type crossing nn/'s boundary: bad configs, mismatched parameters.
class NnError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bcqnmt

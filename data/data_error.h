#pragma once
// The one exception type that crosses data/'s boundary. Messages name the file (and line)
// and say what to do: "test.en has 1802 lines but test.pt has 1803".
#include <stdexcept>

namespace bcqnmt {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bcqnmt

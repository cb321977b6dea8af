#pragma once
// The one exception type that crosses quant/'s boundary: bad bit widths, inconsistent
// shapes, corrupt .bcq data, unknown keys in a bit-allocation file.
#include <stdexcept>

namespace bcqnmt {

class QuantError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bcqnmt

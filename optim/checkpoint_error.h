#pragma once
// The one exception type that crosses optim/'s boundary. Messages name the file and the
// problem ("runs/x/latest.ckpt: checksum mismatch (file corrupted?)").
#include <stdexcept>

namespace bcqnmt {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bcqnmt

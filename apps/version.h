#pragma once
// What build of bcqnmt this is. Run manifests and export bundles record version_line(), so a
// model file can be traced to the source revision that wrote it; `bcqnmt --version` prints
// version_text().
#include <string>

namespace bcqnmt {

// "bcqnmt 0.1.0 (revision 5720f866374c, Release build)"; the revision is `git describe
// --always --dirty` of the source tree at build time (cmake/revision.cmake).
std::string version_line();

// version_line() plus what this CPU gives the kernels that pick their path at run time
// (bf16 matmuls, BCQ ISA paths).
std::string version_text();

}  // namespace bcqnmt

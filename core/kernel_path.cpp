#include "core/kernel_path.h"

namespace bcqnmt {

namespace {
KernelPath g_path = KernelPath::fast;
}

void set_kernel_path(KernelPath path) { g_path = path; }
KernelPath kernel_path() { return g_path; }

}  // namespace bcqnmt

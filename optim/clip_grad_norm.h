#pragma once
// Global gradient-norm clipping (Pascanu et al. 2013): if the L2 norm of all gradients
// together exceeds max_norm, every gradient is scaled by max_norm / norm, which keeps the
// update's direction. Parameters without a gradient count as zero.
#include <vector>

#include "core/variable.h"

namespace bcqnmt {

// Returns the global norm before clipping. Sums of squares run in double over fixed blocks
// added in order, so the result does not depend on the thread count.
double clip_grad_norm(const std::vector<Variable>& parameters, double max_norm);

}  // namespace bcqnmt

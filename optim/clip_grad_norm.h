#pragma once
// Global gradient-norm clipping (Pascanu et al. 2013): if the L2 norm of all gradients
// together exceeds max_norm, every gradient is scaled by max_norm / norm, which keeps the
// update's direction. Parameters without a gradient count as zero.
#include <vector>

#include "core/variable.h"

namespace bcqnmt {

// The L2 norm of all gradients together. Sums of squares run in double over fixed blocks
// added in order, so the result does not depend on the thread count. NaN or Inf when any
// gradient element is (the trainer's non-finite guard reads it).
double gradient_norm(const std::vector<Variable>& parameters);

// Scales every gradient by max_norm / norm when `norm` (gradient_norm's value for these
// parameters) exceeds max_norm.
void clip_grad_norm(const std::vector<Variable>& parameters, double norm, double max_norm);

}  // namespace bcqnmt

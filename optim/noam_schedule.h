#pragma once
// The Transformer's learning-rate schedule (Vaswani et al. 2017, eq. 3), as the reference
// protocol uses it (docs/reference.md §2): linear warm-up, then decay with 1/sqrt(step).
//   lr(s) = d_model^-0.5 * min(s^-0.5, s * warmup^-1.5),   s = 1, 2, ...
// The two branches meet at s = warmup, the peak: d_model^-0.5 * warmup^-0.5
// (0.0013975 for d_model 128, warmup 4000). Step 0 gives 0.
#include <cstdint>

namespace bcqnmt {

double noam_learning_rate(int64_t step, int64_t d_model, int64_t warmup);

}  // namespace bcqnmt

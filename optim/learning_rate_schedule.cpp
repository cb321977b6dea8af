#include "optim/learning_rate_schedule.h"

#include <algorithm>
#include <cmath>

namespace bcqnmt {

double noam_learning_rate(int64_t step, int64_t d_model, int64_t warmup) {
  if (step <= 0) return 0.0;
  const double s = static_cast<double>(step);
  return std::pow(static_cast<double>(d_model), -0.5) *
         std::min(std::pow(s, -0.5), s * std::pow(static_cast<double>(warmup), -1.5));
}

double linear_decay_learning_rate(int64_t step, const LinearDecay& decay, int64_t total) {
  if (step <= 0 || step > total) return 0.0;
  if (step <= decay.warmup_steps)
    return decay.peak * static_cast<double>(step) / static_cast<double>(decay.warmup_steps);
  return decay.peak * static_cast<double>(total + 1 - step) / static_cast<double>(total + 1 - decay.warmup_steps);
}

}  // namespace bcqnmt

#include "core/thread_choice.h"

namespace bcqnmt {

namespace {
constexpr int kProbeSteps = 2 * ThreadChoice::kProbePairs;
}  // namespace

// A probe alternates team, alone, team, alone, ...: neighbouring steps cost about the same
// (a step grows by one cached position), so each pair compares like with like.
bool ThreadChoice::next_alone() const {
  if (probed_steps_ >= 0 && probed_steps_ < kProbeSteps) return probed_steps_ % 2 == 1;
  return alone_;
}

void ThreadChoice::record(bool alone, double seconds) {
  if (probed_steps_ < 0) {  // the first step
    probed_steps_ = 0;
    return;
  }
  if (probed_steps_ >= kProbeSteps) {  // a kept step
    if (++kept_steps_ >= kKeptSteps) {  // probe again: the machine's state may have changed
      probed_steps_ = 0;
      team_seconds_ = alone_seconds_ = 0.0;
    }
    return;
  }
  (alone ? alone_seconds_ : team_seconds_) += seconds;
  ++probed_steps_;
  if (probed_steps_ % 2 == 1) return;  // the pair is not complete
  const bool clear = alone_seconds_ > kClearRatio * team_seconds_ || team_seconds_ > kClearRatio * alone_seconds_;
  if (clear || probed_steps_ == kProbeSteps) {
    alone_ = alone_seconds_ < team_seconds_;
    probed_steps_ = kProbeSteps;
    kept_steps_ = 0;
  }
}

}  // namespace bcqnmt

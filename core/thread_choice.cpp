#include "core/thread_choice.h"

namespace bcqnmt {

bool ThreadChoice::alone() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return alone_;
}

bool ThreadChoice::next_alone(bool timed) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (pairs_ >= kProbePairs) return alone_;
  if (!timed) {  // not comparable with its neighbours: the pair starts again after it
    half_ = false;
    return alone_;
  }
  return half_;
}

void ThreadChoice::record(bool alone, double seconds) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (pairs_ >= kProbePairs) {  // a kept step
    if (++kept_steps_ >= kKeptSteps) {
      pairs_ = 0;
      half_ = false;
      team_seconds_ = alone_seconds_ = 0.0;
    }
    return;
  }
  if (!alone) {
    pending_team_ = seconds;
    half_ = true;
    return;
  }
  half_ = false;
  team_seconds_ += pending_team_;
  alone_seconds_ += seconds;
  ++pairs_;
  const bool clear = alone_seconds_ > kClearRatio * team_seconds_ || team_seconds_ > kClearRatio * alone_seconds_;
  if (clear || pairs_ == kProbePairs) {
    alone_ = alone_seconds_ < team_seconds_;
    pairs_ = kProbePairs;
    kept_steps_ = 0;
  }
}

}  // namespace bcqnmt

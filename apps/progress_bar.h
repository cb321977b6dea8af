#pragma once
// Keras-style epoch progress, as the reference prints it:
//   810/810 [==============================] - 96s 118ms/step - loss: 1.0415 - masked_accuracy: 0.7475
// On a terminal the line redraws in place; otherwise (logs, pipes, CI) a plain line is
// printed every 10% of the epoch or every 30 s, whichever comes first.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace bcqnmt {

using MetricList = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  // `first_step`: the steps of the epoch already done when the bar starts (a resumed run);
  // the time per step and the ETA count only the steps this bar has seen.
  ProgressBar(int64_t total_steps, int64_t first_step, std::ostream& out, bool interactive);
  void update(int64_t done, const MetricList& metrics);
  // The final line of the epoch, with extra metrics (val_loss, ...) appended.
  void finish(const MetricList& metrics);
  double elapsed_seconds() const;

 private:
  std::string line(int64_t done, const MetricList& metrics) const;
  int64_t total_;
  int64_t first_;
  std::ostream& out_;
  bool interactive_;
  static constexpr double kPlainLineSeconds = 30.0;
  int64_t last_reported_decile_ = 0;
  double last_line_seconds_ = 0.0;
  std::chrono::steady_clock::time_point start_;
};

bool stdout_is_terminal();

}  // namespace bcqnmt

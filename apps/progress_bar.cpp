#include "apps/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace bcqnmt {

bool stdout_is_terminal() { return isatty(fileno(stdout)) != 0; }

ProgressBar::ProgressBar(int64_t total_steps, int64_t first_step, std::ostream& out, bool interactive)
    : total_(std::max<int64_t>(total_steps, 1)),
      first_(first_step),
      out_(out),
      interactive_(interactive),
      last_reported_decile_(first_step * 10 / total_),
      start_(std::chrono::steady_clock::now()) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::line(int64_t done, const MetricList& metrics) const {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  std::ostringstream s;
  s << done << "/" << total_ << " [" << std::string(filled, '=');
  if (filled < kWidth) s << (done > 0 ? ">" : ".") << std::string(kWidth - filled - 1, '.');
  const double elapsed = elapsed_seconds();
  const double per_step = done > first_ ? elapsed / static_cast<double>(done - first_) : 0.0;
  s << "] - ";
  if (done < total_)
    s << "ETA: " << static_cast<int64_t>(per_step * static_cast<double>(total_ - done)) << "s";
  else
    s << static_cast<int64_t>(elapsed) << "s " << static_cast<int64_t>(per_step * 1000.0) << "ms/step";
  s << std::fixed << std::setprecision(4);
  for (const auto& [name, value] : metrics) s << " - " << name << ": " << value;
  return s.str();
}

void ProgressBar::update(int64_t done, const MetricList& metrics) {
  if (interactive_) {
    out_ << "\r" << line(done, metrics) << "\033[K" << std::flush;
    return;
  }
  const int64_t decile = done * 10 / total_;
  const double now = elapsed_seconds();
  if ((decile > last_reported_decile_ || now - last_line_seconds_ >= kPlainLineSeconds) && done < total_) {
    last_reported_decile_ = decile;
    last_line_seconds_ = now;
    out_ << line(done, metrics) << "\n" << std::flush;
  }
}

void ProgressBar::finish(const MetricList& metrics) {
  out_ << (interactive_ ? "\r" : "") << line(total_, metrics) << (interactive_ ? "\033[K\n" : "\n") << std::flush;
}

}  // namespace bcqnmt

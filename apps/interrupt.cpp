#include "apps/interrupt.h"

#include <csignal>

namespace bcqnmt {

namespace {
volatile std::sig_atomic_t g_signal = 0;  // the signal caught, 0 for none
extern "C" void on_signal(int signal) { g_signal = signal; }
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_signal != 0; }

void stop_if_interrupted() {
  if (interrupt_requested()) throw TrainingInterrupted{};
}

int interrupted_exit_status() { return g_signal == 0 ? 0 : 128 + g_signal; }

}  // namespace bcqnmt

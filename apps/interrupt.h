#pragma once
// SIGINT/SIGTERM during training: the handler only sets a flag; the training loop checks
// it after each step, writes a checkpoint and stops, so no work is lost and no file is
// left half-written. The process then exits with status 130 (128 + SIGINT).
namespace bcqnmt {

void install_interrupt_handlers();
bool interrupt_requested();

// Thrown by the training loop after it saved its checkpoint; main() maps it to exit 130.
struct TrainingInterrupted {};

constexpr int kInterruptedExitStatus = 130;

}  // namespace bcqnmt

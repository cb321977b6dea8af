#pragma once
// SIGINT/SIGTERM during training: the handler only sets a flag; the training loop checks
// it after each step, writes a checkpoint and stops, so no work is lost and no file is
// left half-written. The process then exits with the shell's status for the signal:
// 130 (128 + SIGINT) or 143 (128 + SIGTERM), as a command without the handler would.
namespace bcqnmt {

void install_interrupt_handlers();
bool interrupt_requested();
// 128 + the signal that was caught (130 or 143); 0 when none was.
int interrupted_exit_status();

// Thrown by the training loop after it saved its checkpoint, and by stop_if_interrupted;
// main() exits with interrupted_exit_status().
struct TrainingInterrupted {};

// Throws TrainingInterrupted once a signal was caught: where a command with the handlers
// installed (pipeline) has nothing to save, such as between stages or between decoding
// steps (DecodeOptions::before_step), so it stops at once.
void stop_if_interrupted();

}  // namespace bcqnmt

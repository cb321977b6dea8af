// bcqnmt: the command line. The global flags, parsing and error reporting live here; each
// subcommand declares its own flags and work in apps/command_<name>.cpp (command_line.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <vector>

#include "apps/command_line.h"
#include "apps/interrupt.h"
#include "bcqnmt_revision.h"  // generated at build time (cmake/revision.cmake)
#include "core/gemm_bf16.h"
#include "core/parallel.h"
#include "quant/bcq_gemm.h"

using namespace bcqnmt;

namespace {
constexpr int kUsageError = 2;

// What `--version` prints: the release, the revision and build, and what this CPU gives the
// kernels that pick their path at run time.
std::string version_text() {
  std::string bf16 = bf16_gemm_unavailable_reason();
  if (bf16.empty()) bf16 = "available";
  std::string bcq;
  for (BcqIsa isa : {BcqIsa::avx512, BcqIsa::avx2, BcqIsa::portable})
    if (bcq_isa_supported(isa)) bcq += (bcq.empty() ? "" : ", ") + bcq_isa_name(isa);
  return std::string("bcqnmt ") + BCQNMT_VERSION + " (revision " + BCQNMT_REVISION + ", " + BCQNMT_BUILD_TYPE +
         " build)\nbf16 matmuls: " + bf16 + "\nBCQ kernel paths on this CPU: " + bcq + " (using " +
         bcq_isa_name(bcq_best_isa()) + ")";
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bcqnmt: train a Portuguese->English Transformer, compress it with binary-code-based quantization "
               "(BCQ), and run it fast on a CPU.\nTypical flow: vocab -> pretrain -> quantize -> evaluate; "
               "`pipeline` runs them all."};
  app.require_subcommand(1);
  app.fallthrough();  // --threads may also follow the subcommand
  // One line per error, like every other failure of the tool.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("bcqnmt: error: ") + e.what() + " (see --help)\n";
  });
  app.set_version_flag("--version", version_text);
  int threads = 0;
  app.add_option("--threads", threads, "Threads for BLAS and parallel kernels (default: all cores)")
      ->check(kNonNegativeCount);
  const std::vector<Subcommand> commands{add_vocab_command(app),     add_pretrain_command(app),
                                         add_quantize_command(app),  add_evaluate_command(app),
                                         add_translate_command(app), add_info_command(app),
                                         add_pipeline_command(app),  add_plot_command(app),
                                         add_sensitivity_command(app), add_report_command(app),
                                         add_average_command(app),     add_score_command(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kUsageError;
  }
  try {
    set_num_threads(threads);
    for (const Subcommand& command : commands) {
      if (!*command.app) continue;
      if (command.checkpoints_on_interrupt) install_interrupt_handlers();
      return command.run();
    }
  } catch (const TrainingInterrupted&) {
    return kInterruptedExitStatus;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');  // one line, always
    std::cerr << "bcqnmt: error: " << message << "\n";
    return kUsageError;
  }
  return 0;
}

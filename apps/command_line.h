#pragma once
// How each subcommand meets the command line: apps/command_<name>.cpp defines
// add_<name>_command(app), which declares the subcommand and its flags on the CLI11 app and
// returns how to run it once parsed. main.cpp only lists them. The flags several commands
// share are declared here, once, with their help text.
#include <CLI/CLI.hpp>
#include <functional>
#include <limits>
#include <string>

#include "apps/training_config.h"

namespace bcqnmt {

struct Subcommand {
  CLI::App* app;             // parsed when *app is true
  std::function<int()> run;  // the exit status; errors are thrown (main turns them into one line)
  // Training commands catch SIGINT/SIGTERM to checkpoint before stopping (apps/interrupt.h);
  // every other command keeps the default action, so Ctrl-C stops it at once.
  bool checkpoints_on_interrupt = false;
};

// Counts on the command line. CLI11's PositiveNumber / NonNegativeNumber would print their
// upper bound, DBL_MAX, in full in the error message.
inline const CLI::Range kPositiveCount(1, std::numeric_limits<int>::max());
inline const CLI::Range kNonNegativeCount(0, std::numeric_limits<int>::max());

// --run DIR (required): the run directory.
inline CLI::Option* add_run_flag(CLI::App* command, std::string& run) {
  return command->add_option("--run", run, "Run directory holding everything of one experiment")->required();
}

// --data DIR: the corpus (data/corpus.h resolve_data_dir gives the default).
inline CLI::Option* add_data_flag(CLI::App* command, std::string& data, const std::string& more = "") {
  return command->add_option("--data", data,
                             "Corpus directory (default: $BCQNMT_DATA, else ../shared/data/ted_hrlr_pt_to_en)" + more);
}

// --model NAME: "fp" (the default) or a quantized variant (apps/model_loading.h).
inline CLI::Option* add_model_flag(CLI::App* command, std::string& model) {
  return command->add_option("--model", model, "fp (full precision) or a quantized variant's name (`bcqnmt info` lists them)")
      ->capture_default_str();
}

// --matmul-precision (matmul_precision_names(), apps/training_config.h): overrides the training config's "matmul_precision" for
// this invocation only (it is arithmetic, not the experiment: the run's config.json keeps its
// value, and a resumed run may change it).
inline CLI::Option* add_matmul_precision_flag(CLI::App* command, std::string& precision) {
  return command
      ->add_option("--matmul-precision", precision,
                   "Dense-layer GEMMs: fp32, bf16 (needs AVX512-BF16 or AMX) or auto (default: the config's "
                   "\"matmul_precision\")")
      ->check(CLI::IsMember(matmul_precision_names().names()));
}

Subcommand add_vocab_command(CLI::App& app);
Subcommand add_pretrain_command(CLI::App& app);
Subcommand add_quantize_command(CLI::App& app);
Subcommand add_evaluate_command(CLI::App& app);
Subcommand add_translate_command(CLI::App& app);
Subcommand add_info_command(CLI::App& app);
Subcommand add_pipeline_command(CLI::App& app);
Subcommand add_plot_command(CLI::App& app);
Subcommand add_report_command(CLI::App& app);
Subcommand add_average_command(CLI::App& app);
Subcommand add_score_command(CLI::App& app);
Subcommand add_sensitivity_command(CLI::App& app);

}  // namespace bcqnmt

#pragma once
// How each subcommand meets the command line: apps/command_<name>.cpp defines
// add_<name>_command(app), which declares the subcommand and its flags on the CLI11 app and
// returns how to run it once parsed. main.cpp only lists them. The flags several commands
// share are declared here, once, with their help text.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "apps/training_config.h"
#include "data/corpus.h"

namespace bcqnmt {

struct Subcommand {
  CLI::App* app;             // parsed when *app is true
  std::function<int()> run;  // the exit status; errors are thrown (main turns them into one line)
  // Training commands catch SIGINT/SIGTERM to checkpoint before stopping (apps/interrupt.h),
  // and `serve` to finish the requests in flight; every other command keeps the default
  // action, so Ctrl-C stops it at once.
  bool checkpoints_on_interrupt = false;
};

// Counts on the command line: whole numbers from `lowest` to INT_MAX. The error says which
// rule the value broke ("abc" is not a number; "-1" is below 0); CLI11's Range calls "abc"
// out of range, and its PositiveNumber prints its upper bound, DBL_MAX, in full.
inline CLI::Validator count_from(int lowest) {
  return CLI::Validator(
      [lowest](std::string& value) -> std::string {
        long long parsed = 0;
        const char* end = value.data() + value.size();
        const auto [stop, status] = std::from_chars(value.data(), end, parsed);
        if (value.empty() || stop != end) return "\"" + value + "\" is not a whole number";
        if (status == std::errc::result_out_of_range || parsed > std::numeric_limits<int>::max())
          return value + " is too large (at most " + std::to_string(std::numeric_limits<int>::max()) + ")";
        if (parsed < lowest) return value + " is below " + std::to_string(lowest);
        return "";
      },
      "INT >= " + std::to_string(lowest));
}
// Real numbers on the command line: from `lowest` to `highest`. CLI11's Range lets "nan"
// through (every comparison with NaN is false) and then a NaN length penalty scores every
// hypothesis NaN; here only a finite number in range passes.
inline CLI::Validator number_between(double lowest, double highest) {
  return CLI::Validator(
      [lowest, highest](std::string& value) -> std::string {
        double parsed = 0;
        const char* end = value.data() + value.size();
        const auto [stop, status] = std::from_chars(value.data(), end, parsed);
        if (value.empty() || stop != end || status != std::errc() || !std::isfinite(parsed))
          return "\"" + value + "\" is not a finite number";
        if (parsed < lowest || parsed > highest)
          return value + " is not in [" + CLI::detail::to_string(lowest) + ", " + CLI::detail::to_string(highest) + "]";
        return "";
      },
      "NUMBER in [" + CLI::detail::to_string(lowest) + ", " + CLI::detail::to_string(highest) + "]");
}
inline const CLI::Validator kPositiveCount = count_from(1);
inline const CLI::Validator kNonNegativeCount = count_from(0);

// --run DIR (required): the run directory.
inline CLI::Option* add_run_flag(CLI::App* command, std::string& run) {
  return command->add_option("--run", run, "Run directory holding everything of one experiment")->required();
}

// --data DIR: the corpus (data/corpus.h resolve_data_dir gives the default).
inline CLI::Option* add_data_flag(CLI::App* command, std::string& data, const std::string& more = "") {
  std::string defaults;
  for (const std::string& dir : default_data_dirs()) defaults += (defaults.empty() ? "" : ", else ") + dir;
  return command->add_option("--data", data,
                             "Corpus directory (default: $BCQNMT_DATA, else " + defaults +
                                 ", relative to the current directory)" + more);
}

// --model NAME: "fp" (the default) or a quantized variant (apps/model_loading.h).
inline CLI::Option* add_model_flag(CLI::App* command, std::string& model) {
  return command->add_option("--model", model, "fp (full precision) or a quantized variant's name (`bcqnmt info` lists them)")
      ->capture_default_str();
}

// Where a translating command's model comes from: --run DIR [--model NAME], or --bundle DIR
// (apps/bundle.h), which holds one model and excludes both (a parse error, exit status 2).
// apps/model_loading.h load_model reads them and requires one of --run and --bundle.
inline void add_model_source_flags(CLI::App* command, std::string& run, std::string& bundle, std::string& model) {
  CLI::Option* run_flag = add_run_flag(command, run)->required(false);
  CLI::Option* model_flag = add_model_flag(command, model);
  command->add_option("--bundle", bundle, "A bundle written by `bcqnmt export` (instead of --run and --model)")
      ->excludes(run_flag)
      ->excludes(model_flag);
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
Subcommand add_export_command(CLI::App& app);
Subcommand add_serve_command(CLI::App& app);
Subcommand add_sensitivity_command(CLI::App& app);

}  // namespace bcqnmt

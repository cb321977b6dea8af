// bcqnmt: the command line. Parsing and error reporting live here; the work is in
// apps/command_*.cpp.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "apps/commands.h"
#include "apps/interrupt.h"
#include "core/parallel.h"

using namespace bcqnmt;

namespace {
constexpr int kUsageError = 2;
}

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
  int threads = 0;
  app.add_option("--threads", threads, "Threads for BLAS and parallel kernels (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  const std::string data_help = "Corpus directory (default: $BCQNMT_DATA, else ../shared/data/ted_hrlr_pt_to_en)";
  const std::string run_help = "Run directory holding everything of one experiment";

  VocabOptions vocab;
  auto* vocab_cmd = app.add_subcommand("vocab", "Learn the pt and en WordPiece vocabularies into the run directory");
  vocab_cmd->add_option("--data", vocab.data, data_help);
  vocab_cmd->add_option("--run", vocab.run, run_help)->required();
  vocab_cmd->add_option("--size", vocab.size, "Target vocabulary size")->capture_default_str()->check(CLI::Range(16, 1000000));
  vocab_cmd->add_option("--limit", vocab.limit, "Learn from the first N training pairs only (0: all)")->check(CLI::NonNegativeNumber);

  PretrainOptions pretrain;
  auto* pretrain_cmd = app.add_subcommand("pretrain", "Train the full-precision model; resumes from the run's latest checkpoint. "
                                                     "A config's \"matmul_precision\": \"bf16\" runs the dense layers' "
                                                     "GEMMs in bf16 on AMX CPUs (configs/small_bucketed_bf16.json)");
  pretrain_cmd->add_option("--config", pretrain.config, "Config file (required for a new run, e.g. configs/small.json)");
  pretrain_cmd->add_option("--data", pretrain.data, data_help);
  pretrain_cmd->add_option("--run", pretrain.run, run_help)->required();
  pretrain_cmd->add_option("--epochs", pretrain.epochs, "Epochs in total (default: the config's)")->check(CLI::PositiveNumber);

  QuantizeOptions quantize;
  auto* quantize_cmd = app.add_subcommand(
      "quantize", "BCQ quantization-aware training from the pretrained model; writes RUN/model.bcq");
  quantize_cmd->add_option("--run", quantize.run, run_help)->required();
  quantize_cmd->add_option("--data", quantize.data, data_help);
  auto* bits_opt = quantize_cmd->add_option("--bits", quantize.bits, "Bits per weight for every quantized group (default: the config's, 3)")
      ->check(CLI::Range(1, 8));
  quantize_cmd->add_option("--bits-config", quantize.bits_config, "JSON bit allocation per parameter group (overrides --bits)")
      ->check(CLI::ExistingFile);
  auto* solver_opt = quantize_cmd->add_option("--solver", quantize.solver, "BCQ solver (default: the config's, greedy as the reference)")
      ->check(CLI::IsMember({"greedy", "refined_greedy", "alternating"}));
  auto* mode_opt = quantize_cmd->add_option("--mode", quantize.mode,
                            "projection: project every N steps as the reference; ste: straight-through estimator "
                            "(default: the config's, projection)")
      ->check(CLI::IsMember({"projection", "ste"}));
  quantize_cmd->add_option("--epochs", quantize.epochs, "Epochs of quantization-aware training (default: the config's)")
      ->check(CLI::PositiveNumber);
  quantize_cmd->add_option("--project-every", quantize.project_every, "Projection mode: steps between projections (default: one epoch)")
      ->check(CLI::NonNegativeNumber);

  EvaluateOptions evaluate;
  auto* evaluate_cmd = app.add_subcommand("evaluate", "Translate a split and report BLEU (nltk-compatible and sacreBLEU-style 13a)");
  evaluate_cmd->add_option("--run", evaluate.run, run_help)->required();
  evaluate_cmd->add_option("--data", evaluate.data, data_help);
  evaluate_cmd->add_option("--model", evaluate.model, "fp: pretrain/best.ckpt; bcq: model.bcq")->capture_default_str()
      ->check(CLI::IsMember({"fp", "bcq"}));
  evaluate_cmd->add_option("--split", evaluate.split, "test, validation or train")->capture_default_str()
      ->check(CLI::IsMember({"test", "validation", "train"}));
  evaluate_cmd->add_option("--limit", evaluate.limit, "Only the first N pairs (0: all)")->check(CLI::NonNegativeNumber);
  evaluate_cmd->add_option("--beam", evaluate.beam, "Beam size (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));
  evaluate_cmd->add_option("--samples", evaluate.samples, "PT/EN/OUT examples to print")->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  TranslateOptions translate;
  auto* translate_cmd = app.add_subcommand("translate", "Translate Portuguese lines from stdin to English on stdout");
  translate_cmd->add_option("--run", translate.run, run_help)->required();
  translate_cmd->add_option("--model", translate.model, "fp or bcq")->capture_default_str()->check(CLI::IsMember({"fp", "bcq"}));
  translate_cmd->add_option("--beam", translate.beam, "Beam size (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));

  InfoOptions info;
  auto* info_cmd = app.add_subcommand("info", "Parameters, bytes per part and bits per weight of the run's models");
  info_cmd->add_option("--run", info.run, run_help)->required();

  PipelineOptions pipeline;
  auto* pipeline_cmd = app.add_subcommand("pipeline", "vocab -> pretrain -> quantize -> evaluate both, then a summary table");
  pipeline_cmd->add_option("--config", pipeline.config, "Config file (e.g. configs/small.json)")->required();
  pipeline_cmd->add_option("--data", pipeline.data, data_help);
  pipeline_cmd->add_option("--run", pipeline.run, run_help)->required();
  pipeline_cmd->add_option("--epochs", pipeline.epochs, "Pretraining epochs (default: the config's)")->check(CLI::PositiveNumber);
  pipeline_cmd->add_option("--quantize-epochs", pipeline.quantize_epochs, "Quantization epochs (default: the config's)")
      ->check(CLI::PositiveNumber);
  pipeline_cmd->add_option("--vocab-limit", pipeline.vocab_limit, "Learn the vocabularies from the first N pairs (0: all)")
      ->check(CLI::NonNegativeNumber);

  PlotOptions plot;
  auto* plot_cmd = app.add_subcommand("plot", "SVG pictures of a run: training curves, cross-attention of one sentence, "
                                              "one layer's weights with its BCQ levels");
  plot_cmd->add_option("--run", plot.run, run_help)->required();
  plot_cmd->add_option("--out", plot.out, "Output directory (default: RUN/plots)");
  plot_cmd->add_option("--data", plot.data, data_help + "; its first test sentence is drawn");
  plot_cmd->add_option("--sentence", plot.sentence, "Portuguese sentence for the attention picture");
  plot_cmd->add_option("--layer", plot.layer, "Weight matrix for the histogram")->capture_default_str();
  plot_cmd->add_option("--bits", plot.bits, "BCQ bits of the levels (default: the run's)")->check(CLI::Range(1, 8));
  plot_cmd->add_option("--solver", plot.solver, "BCQ solver of the levels (default: the run's)")
      ->check(CLI::IsMember({"greedy", "refined_greedy", "alternating"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kUsageError;
  }
  try {
    set_num_threads(threads);
    install_interrupt_handlers();
    if (*vocab_cmd) return run_vocab(vocab, std::cout);
    if (*pretrain_cmd) return run_pretrain(pretrain, std::cout);
    if (*quantize_cmd) {
      quantize.bits_set = bits_opt->count() > 0;
      quantize.solver_set = solver_opt->count() > 0;
      quantize.mode_set = mode_opt->count() > 0;
      return run_quantize(quantize, std::cout);
    }
    if (*evaluate_cmd) return run_evaluate(evaluate, std::cout);
    if (*translate_cmd) return run_translate(translate, std::cin, std::cout);
    if (*info_cmd) return run_info(info, std::cout);
    if (*pipeline_cmd) return run_pipeline(pipeline, std::cout);
    if (*plot_cmd) return run_plot(plot, std::cout);
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

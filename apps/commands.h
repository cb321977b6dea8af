#pragma once
// The subcommands of `bcqnmt`. Each takes its parsed options and returns the exit status;
// errors are thrown (module error types) and turned into one line on stderr by main().
// Their flags are declared next to them (apps/command_line.h).
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "core/name_table.h"
#include "nn/decoding.h"

namespace bcqnmt {

struct VocabOptions {
  std::string data, run;
  int64_t size = 8000;
  int64_t limit = 0;  // learn from the first N training pairs (0: all)
};
int run_vocab(const VocabOptions& o, std::ostream& out);

struct PretrainOptions {
  std::string config, data, run;
  int epochs = 0;  // 0: the config's
  bool restart = false;  // start from scratch (TrainerPhase::restart)
  std::string matmul_precision;  // "": the config's "matmul_precision"
};
int run_pretrain(const PretrainOptions& o, std::ostream& out);

struct QuantizeOptions {  // unset or empty: the config's
  std::string run, data, bits_config;
  std::string name;  // "": default_variant_name (apps/quantized_variant.h)
  std::optional<int> bits, epochs;
  std::optional<std::string> solver, mode;
  std::optional<int64_t> project_every;  // projection mode: steps between projections (0: every epoch)
  std::optional<double> distill_weight;
  std::optional<std::string> lr_schedule;
  std::optional<double> learning_rate;  // linear_decay's peak
  bool restart = false;  // start the variant's training from scratch (TrainerPhase::restart)
};
int run_quantize(const QuantizeOptions& o, std::ostream& out);

struct EvaluateOptions {
  std::string run, data, model = "fp", split = "test";
  std::string output;  // "": only RUN/eval/
  int64_t limit = 0;
  int beam = 1;
  int samples = 2;  // PT/EN/OUT examples printed
};
struct EvaluationSummary {
  double bleu_nltk = 0.0, sacrebleu = 0.0;
  double decode_seconds = 0.0;
  int64_t pairs = 0;
};
EvaluationSummary evaluate_run(const EvaluateOptions& o, std::ostream& out);
int run_evaluate(const EvaluateOptions& o, std::ostream& out);

// What translate prints: English as a reader writes it (data/readable_english.h), or the
// corpus's lower-cased Moses-tokenized form, which BLEU against the references uses.
enum class OutputFormat { readable, tokenized };
inline const NameTable<OutputFormat>& output_format_names() {
  static const NameTable<OutputFormat> names("the output format",
                                             {{OutputFormat::readable, "readable"}, {OutputFormat::tokenized, "tokenized"}});
  return names;
}

struct TranslateOptions {
  std::string run, model = "fp", bundle;  // --run/--model or --bundle (apps/model_loading.h load_model)
  OutputFormat format = OutputFormat::readable;
  std::string input, output;  // "": standard input / output
  int beam = 1;
  double length_penalty = DecodeOptions{}.length_alpha;
  int max_length = DecodeOptions{}.max_length;
  double max_length_factor = DecodeOptions{}.max_length_factor;
  int n_best = 1;       // > 1: "index ||| translation ||| score" lines
  bool scores = false;  // 1-best: "translation ||| score"
  bool quiet = false;   // no summary on stderr
};
int run_translate(const TranslateOptions& o, std::istream& in, std::ostream& out, std::ostream& err);

struct ExportOptions {
  std::string run, out;
  std::string model;  // "": default_export_model (apps/bundle.h)
};
int run_export(const ExportOptions& o, std::ostream& out);  // apps/command_export.cpp

struct ServeOptions {
  std::string run, model = "fp", bundle;  // as TranslateOptions
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the one taken is printed)
  int64_t max_request_bytes = 64 * 1024;
  int max_sentences = 64;  // per request
  double batch_window_ms = 5.0;  // requests arriving this close together are decoded as one batch
};
int run_serve(const ServeOptions& o, std::ostream& out);  // apps/command_serve.cpp

struct InfoOptions {
  std::string run;
};
int run_info(const InfoOptions& o, std::ostream& out);

struct PipelineOptions {
  std::string config, data, run;
  int epochs = 0, quantize_epochs = 0;
  int64_t vocab_limit = 0;
  std::string matmul_precision;  // "": the config's (pretraining only)
};
int run_pipeline(const PipelineOptions& o, std::ostream& out);

struct ScoreOptions {
  std::string reference, hypothesis;  // hypothesis "": standard input
};
int run_score(const ScoreOptions& o, std::istream& in, std::ostream& out);  // apps/command_score.cpp

struct AverageOptions {
  std::string run, data;
  int last = 5;  // Vaswani et al. 2017 averaged the last 5 checkpoints
};
int run_average(const AverageOptions& o, std::ostream& out);  // apps/command_average.cpp

struct ReportOptions {
  std::string run, into, marker = "results-table";
};
int run_report(const ReportOptions& o, std::ostream& out);  // apps/command_report.cpp

struct PlotOptions {
  std::string run, out, data, sentence, solver;  // out "": RUN/plots; sentence "": first test line
  std::string layer = "encoder/layer_0/ffn/dense_0/kernel";
  int bits = 0;  // 0: the run's quantization config
};
int run_plot(const PlotOptions& o, std::ostream& out);  // apps/command_plot.cpp

struct SensitivityOptions {
  std::string run, data;
  std::string bits = "2,1";  // comma-separated widths, each 1..8
  std::optional<std::string> solver;  // unset: the run's quantization config
  int64_t limit = 0;  // validation pairs (0: the training config's validation_limit)
};
int run_sensitivity(const SensitivityOptions& o, std::ostream& out);  // apps/command_sensitivity.cpp
// The sweep's file in the run directory: written by `sensitivity`, drawn by `plot`.
inline constexpr const char* kSensitivityFile = "sensitivity.json";

}  // namespace bcqnmt

// bcqnmt report: the results table of one run, one row per model (fp and each quantized
// variant), built from what the run directory holds -- checkpoints, .bcq files and the
// metrics.jsonl log -- never typed by hand. --into replaces the table in a markdown file
// between two marker lines, so docs/results.md is regenerated, not edited.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/quantized_variant.h"
#include "core/atomic_file.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

// What the log says about one model.
struct ModelLog {
  std::string command;             // of the last "start" that went on to validate (an
                                   // interrupted start before its first validation made nothing)
  std::string started;             // the last "start" record's command
  double best_val_accuracy = -1.0;  // over its validation records (the .bcq holds the best)
  std::map<int64_t, double> epoch_seconds;  // QAT epoch -> its longest elapsed time
  const nlohmann::json* evaluation = nullptr;  // the last full-test greedy evaluation
};


std::map<std::string, ModelLog> summarise(const std::vector<nlohmann::json>& records) {
  std::map<std::string, ModelLog> logs;
  for (const nlohmann::json& r : records) {
    const std::string phase = r.value("phase", "");
    if (phase == "evaluate") {
      if (r.value("split", "") == "test" && r.value("limit", int64_t{-1}) == 0 && r.value("beam", 0) == 1)
        logs[r.value("model", "")].evaluation = &r;
      continue;
    }
    const std::string model = phase == "pretrain" ? kFullPrecisionModel : r.value("variant", "");
    if (phase != "pretrain" && phase != "quantize") continue;
    ModelLog& log = logs[model];
    const std::string kind = r.value("kind", "");
    if (kind == "start") log.started = r.value("command", "");
    if (kind != "validation") continue;
    if (!log.started.empty()) log.command = log.started;
    log.best_val_accuracy = std::max(log.best_val_accuracy, r.value("val_masked_accuracy", -1.0));
    double& seconds = log.epoch_seconds[r.value("epoch", int64_t{0})];
    seconds = std::max(seconds, r.value("seconds", 0.0));
  }
  return logs;
}

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

}  // namespace

// One model's row: its sizes, best validation accuracy, last greedy evaluation, QAT time and
// the command that made it. fp's best.ckpt says which model "fp" is (it may be an average).
void write_row(std::ostream& t, const RunDirectory& run, const std::string& model, ModelLog log, double bits,
               double nominal_bits, int64_t bytes) {
  if (model == kFullPrecisionModel) {
    const auto best = run.pretrain_dir() / "best.ckpt";
    if (std::filesystem::exists(best)) {
      const Checkpoint c = load_checkpoint(best);
      if (c.metrics.count("val_masked_accuracy")) log.best_val_accuracy = c.metrics.at("val_masked_accuracy");
    }
  }
  t << "| " << model << " | " << fixed(bits, 2) << " | " << fixed(nominal_bits, 2) << " | " << bytes << " | "
    << (log.best_val_accuracy >= 0 ? fixed(log.best_val_accuracy, 4) : "-") << " | ";
  if (log.evaluation) {
    const nlohmann::json& ev = *log.evaluation;
    t << fixed(ev.value("bleu_nltk", 0.0), 4) << " | " << fixed(ev.value("sacrebleu", 0.0), 2) << " | ";
  } else {
    t << "- | - | ";
  }
  if (model == kFullPrecisionModel) {
    t << "- | - | ";
  } else {
    int64_t epochs = 0;
    double seconds = 0.0;
    for (const auto& [epoch, s] : log.epoch_seconds) {
      epochs = std::max(epochs, epoch);
      seconds += s;
    }
    t << epochs << " | " << fixed(seconds / 60.0, 1) << " min | ";
  }
  if (log.evaluation)
    t << fixed(1000.0 * log.evaluation->value("decode_seconds", 0.0) /
                   static_cast<double>(std::max<int64_t>(1, log.evaluation->value("pairs", int64_t{1}))),
               1);
  else
    t << "-";
  t << " | `" << (log.command.empty() ? "-" : log.command) << "` |\n";
}

// The mean bit width of a variant's quantized matrices alone, as papers count it.
double nominal_bits(const std::filesystem::path& bcq_file) {
  const LoadedBcqModel loaded = load_bcq_model(bcq_file, /*kernels=*/false);
  double bit_sum = 0.0;
  int64_t quantized = 0;
  for (const auto& part : bcq_size_report(loaded.bcq, *loaded.model).parts) {
    bit_sum += part.average_bits * static_cast<double>(part.quantized_parameters);
    quantized += part.quantized_parameters;
  }
  return bit_sum / static_cast<double>(std::max<int64_t>(quantized, 1));
}

std::string results_table(const RunDirectory& run) {
  const Experiment e = open_experiment(run.root.string(), "");
  const int64_t parameters = Transformer(e.model, e.training.seed).num_parameters();
  const std::vector<nlohmann::json> records = run.read_metrics(std::cerr);
  std::map<std::string, ModelLog> logs;
  try {
    logs = summarise(records);
  } catch (const nlohmann::json::exception& err) {
    throw run.metrics_error(err);
  }
  const auto log_of = [&](const std::string& model) { return logs.count(model) ? logs.at(model) : ModelLog{}; };
  std::ostringstream t;
  t << "| model | bits/weight | quantized weights' bits | file bytes | val_masked_accuracy | BLEU (nltk) | sacreBLEU | QAT epochs | QAT wall "
       "time | greedy ms/sentence | command |\n"
    << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  write_row(t, run, kFullPrecisionModel, log_of(kFullPrecisionModel), 32.0, 32.0, 4 * parameters);
  for (const std::string& name : finished_variants(run)) {
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(run.bcq_model(name)));
    write_row(t, run, name, log_of(name), 8.0 * static_cast<double>(bytes) / static_cast<double>(parameters),
              nominal_bits(run.bcq_model(name)), bytes);
  }
  t << "\nbits/weight: 8 x the model's bytes / its " << parameters
    << " parameters, so alphas, biases, LayerNorm and headers count; quantized weights' bits: the mean bit "
       "width of the quantized matrices alone, as papers count it (Chung et al. 2020's 2.6). fp: its fp32 weights. BLEU: the last greedy "
       "`bcqnmt evaluate` of the model on the full test split (none: -). QAT wall time: the sum over its epochs.\n";
  return t.str();
}

void replace_marked_block(const std::filesystem::path& file, const std::string& marker, const std::string& block) {
  std::ifstream in(file);
  if (!in) throw AppError("cannot read " + file.string());
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string text = whole.str();
  const std::string begin = "<!-- " + marker + ":begin -->\n", end = "<!-- " + marker + ":end -->";
  const size_t b = text.find(begin), e = text.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b)
    throw AppError(file.string() + " has no lines \"" + begin.substr(0, begin.size() - 1) + "\" and \"" + end +
                   "\" to put the table between");
  write_file_atomically(file, text.substr(0, b + begin.size()) + block + text.substr(e));
}

int run_report(const ReportOptions& o, std::ostream& out) {
  const std::string table = results_table(RunDirectory{o.run});
  if (o.into.empty()) {
    out << table;
    return 0;
  }
  replace_marked_block(o.into, o.marker, table);
  out << "report: wrote the table of " << o.run << " into " << o.into << "\n";
  return 0;
}

Subcommand add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* c = app.add_subcommand(
      "report", "The run's results table (markdown): fp and every quantized variant, from its files and metrics.jsonl");
  add_run_flag(c, o->run);
  c->add_option("--into", o->into,
                "Replace the table between the lines <!-- MARKER:begin --> and <!-- MARKER:end --> of this markdown "
                "file (atomically) instead of printing it");
  c->add_option("--marker", o->marker, "The marker name for --into")->capture_default_str();
  return {c, [o] { return run_report(*o, std::cout); }};
}

}  // namespace bcqnmt

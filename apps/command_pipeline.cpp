// bcqnmt pipeline: the whole experiment, resumable at every stage, ending with a table.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/run_lock.h"
#include "optim/data_parallel.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/interrupt.h"
#include "apps/quantized_variant.h"
#include "apps/run_manifest.h"

namespace bcqnmt {

namespace {
// The stages between training phases have no checkpoint to write: a SIGINT/SIGTERM caught
// during one ends the pipeline at the next check (130/143): between stages, or at the next
// decoding step of an evaluation; a rerun resumes.

// A variant quantized from an earlier pretrain/best.ckpt is made again from the current one:
// its checkpoints and model go (its settings stay), so quantize starts afresh.
void rederive_if_stale(const RunDirectory& run, const std::string& variant, std::ostream& out) {
  const std::string stale = stale_variant_warning(run, variant);
  if (stale.empty()) return;
  out << stale << "\npipeline: re-deriving " << run.variant_dir(variant).string() << "\n";
  PhaseFiles(run.variant_dir(variant)).discard();
}

double best_validation_accuracy(const std::filesystem::path& best) {
  const Checkpoint c = load_checkpoint(best);
  return c.metrics.count("val_masked_accuracy") ? c.metrics.at("val_masked_accuracy") : 0.0;
}

// A variant's validation accuracy: its best checkpoint's, or for post-training quantization,
// which trains nothing and keeps no checkpoint, the validation record quantize logged last.
double variant_validation_accuracy(const RunDirectory& run, const std::string& variant, std::ostream& out) {
  const std::filesystem::path best = run.variant_dir(variant) / "best.ckpt";
  if (std::filesystem::exists(best)) return best_validation_accuracy(best);
  double accuracy = 0.0;
  for (const nlohmann::json& record : run.read_metrics(out))
    if (record.value("phase", "") == "quantize" && record.value("variant", "") == variant &&
        record.value("kind", "") == "validation" && record.contains("val_masked_accuracy"))
      accuracy = record["val_masked_accuracy"].get<double>();
  return accuracy;
}
// The closing table: BLEU, validation accuracy, size and speed of both models.
void print_summary(const Experiment& e, const std::string& variant, const EvaluationSummary& fp,
                   const EvaluationSummary& bcq, std::ostream& out) {
  const double fp_acc = best_validation_accuracy(e.run.pretrain_dir() / "best.ckpt");
  const double bcq_acc = variant_validation_accuracy(e.run, variant, out);
  const double fp_mb = 4.0 * 1e-6 * static_cast<double>(Transformer(e.model, 1).num_parameters());
  const double bcq_mb = 1e-6 * static_cast<double>(std::filesystem::file_size(e.run.bcq_model(variant)));
  out << "\n" << std::left << std::setw(8) << "model" << std::right << std::setw(12) << "BLEU(nltk)" << std::setw(12)
      << "sacreBLEU" << std::setw(10) << "val_acc" << std::setw(11) << "size MB" << std::setw(14) << "ms/sentence"
      << "\n"
      << std::fixed;
  auto row = [&](const char* name, const EvaluationSummary& s, double acc, double mb) {
    out << std::left << std::setw(8) << name << std::right << std::setprecision(4) << std::setw(12) << s.bleu_nltk
        << std::setprecision(2) << std::setw(12) << s.sacrebleu << std::setprecision(4) << std::setw(10) << acc
        << std::setprecision(2) << std::setw(11) << mb << std::setprecision(2) << std::setw(14)
        << 1000.0 * s.decode_seconds / static_cast<double>(std::max<int64_t>(1, s.pairs)) << "\n";
  };
  row("fp32", fp, fp_acc, fp_mb);
  row("bcq", bcq, bcq_acc, bcq_mb);
  out << "(BLEU: nltk corpus_bleu on the " << fp.pairs << " test pairs, greedy; reference: fp32 0.2897, 3-bit 0.2827 "
      << "on its first 200 pairs)\n";
  out.unsetf(std::ios::fixed);
}

}  // namespace

int run_pipeline(const PipelineOptions& o, std::ostream& out) {
  const std::string data_dir = resolve_data_dir(o.data);
  // Fail at once, not after learning vocabularies, if the run was started differently.
  const nlohmann::json config = read_config_file(o.config);
  check_run_config(RunDirectory{o.run}, config, o.config, /*restart=*/false);
  const auto quantization = QuantizationConfig::from_json(config.value("quantization", nlohmann::json::object()));
  if (o.quantize_epochs > 0 && quantization.mode == QuantizationMode::ptq)
    throw UsageError("pipeline: --quantize-epochs: the config's quantization \"mode\" is \"ptq\", which does not train");
  out << "== 1/5 vocabularies\n";
  VocabOptions vocab;  // the default vocabulary size
  vocab.data = data_dir;
  vocab.run = o.run;
  vocab.limit = o.vocab_limit;
  run_vocab(vocab, out);
  out << "== 2/5 full-precision pretraining\n";
  run_pretrain({o.config, data_dir, o.run, o.epochs, /*restart=*/false, o.matmul_precision}, out);
  const Experiment e = open_experiment(o.run, "");
  const int epochs = o.epochs > 0 ? o.epochs : e.training.epochs;
  if (e.training.keep_epoch_checkpoints > 1 && epochs > 1) {
    out << "== checkpoint averaging\n";
    run_average({o.run, data_dir, std::min(e.training.keep_epoch_checkpoints, epochs)}, out);
  }
  stop_if_interrupted();
  const bool post_training = e.quantization.mode == QuantizationMode::ptq;
  out << (post_training ? "== 3/5 BCQ post-training quantization\n" : "== 3/5 BCQ quantization-aware training\n");
  QuantizeOptions q;
  q.run = o.run;
  q.data = data_dir;
  if (o.quantize_epochs > 0) q.epochs = o.quantize_epochs;
  // The config's variant, under its default name, so `bcqnmt quantize` with no flags resumes it.
  q.name = default_variant_name(e.quantization);
  rederive_if_stale(e.run, q.name, out);
  run_quantize(q, out);
  stop_if_interrupted();
  out << "== 4/5 evaluate the full-precision model" << std::endl;  // seen before the long decoding
  EvaluateOptions ev;
  ev.run = o.run;
  ev.data = data_dir;
  const EvaluationSummary fp = evaluate_run(ev, out);
  stop_if_interrupted();
  out << "== 5/5 evaluate the BCQ model" << std::endl;
  ev.model = q.name;
  const EvaluationSummary bcq = evaluate_run(ev, out);

  print_summary(e, q.name, fp, bcq, out);
  return 0;
}

Subcommand add_pipeline_command(CLI::App& app) {
  auto o = std::make_shared<PipelineOptions>();
  CLI::App* c = app.add_subcommand("pipeline", "vocab -> pretrain (-> average, with \"keep_epoch_checkpoints\") -> quantize -> evaluate both, then a summary table");
  c->add_option("--config", o->config, "Config file (e.g. configs/small_bucketed.json)")->required();
  add_data_flag(c, o->data);
  add_run_flag(c, o->run);
  c->add_option("--epochs", o->epochs, "Pretraining epochs (default: the config's)")->check(kPositiveCount);
  c->add_option("--quantize-epochs", o->quantize_epochs, "Quantization epochs (default: the config's)")
      ->check(kPositiveCount);
  add_matmul_precision_flag(c, o->matmul_precision);
  c->add_option("--vocab-limit", o->vocab_limit, "Learn the vocabularies from the first N pairs (0: all)")
      ->check(kNonNegativeCount);
  auto run = [o] {
    const RunLock lock(o->run, "pipeline", DataParallel::world().is_root());
    return run_pipeline(*o, std::cout);
  };
  return {c, run, /*checkpoints_on_interrupt=*/true};
}

}  // namespace bcqnmt

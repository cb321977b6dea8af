// bcqnmt pretrain: full-precision training with the reference protocol.
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/run_lock.h"
#include "apps/run_manifest.h"
#include "optim/data_parallel.h"
#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/trainer.h"
#include "apps/validation_bleu.h"
#include "apps/version.h"

namespace bcqnmt {

int run_pretrain(const PretrainOptions& o, std::ostream& terminal) {
  DataParallel& group = DataParallel::world();  // one rank of `mpirun -np N` (docs/scaling.md)
  std::ostream& out = group.root_stream(terminal);
  const RunDirectory run{o.run};
  // Before the config check: a commit a kill interrupted may have yet to publish config.json.
  if (group.is_root())
    if (const std::string repaired = repair_run(run); !repaired.empty()) out << repaired << "\n";
  const std::string config_source = o.config.empty() ? run.config().string() : o.config;
  if (!o.config.empty() || std::filesystem::exists(run.config()))
    check_run_config(run, read_config_file(config_source), config_source, o.restart);
  // A restart of a run with checkpoints publishes its config with its first commit.
  const bool bound = std::filesystem::exists(run.pretrain_dir() / "latest.ckpt") ||
                     std::filesystem::exists(run.pretrain_dir() / "best.ckpt");
  const ConfigAdoption adoption = o.restart && bound ? ConfigAdoption::at_commit : ConfigAdoption::now;
  Experiment e = open_experiment(o.run, o.config, adoption);
  const auto& precisions = matmul_precision_names();
  if (!o.matmul_precision.empty() && precisions.parse<UsageError>(o.matmul_precision) != e.training.matmul_precision) {
    out << "pretrain: --matmul-precision " << o.matmul_precision << " overrides the config's \""
        << precisions.name(e.training.matmul_precision) << "\" for this run\n";
    e.training.matmul_precision = precisions.parse(o.matmul_precision);
  }
  const std::string data_dir = resolve_data_dir(o.data);
  const EncodedCorpus train = load_encoded_split(e, data_dir, Split::kTrain, e.training.train_limit);
  const EncodedCorpus validation = load_encoded_split(e, data_dir, Split::kValidation, e.training.validation_limit);
  Transformer model(e.model, e.training.seed);
  out << "pretrain: " << model.num_parameters() << " parameters, " << train.size() << " training pairs, "
      << validation.size() << " validation pairs, batcher " << batcher_names().name(e.training.batcher)
      << "\n";
  std::string command = "bcqnmt pretrain --run " + o.run;
  if (!o.config.empty()) command += " --config " + o.config;
  if (o.epochs > 0) command += " --epochs " + std::to_string(o.epochs);
  if (!o.matmul_precision.empty()) command += " --matmul-precision " + o.matmul_precision;
  if (o.restart) command += " --restart";
  if (group.is_root()) e.run.append_metrics({{"phase", "pretrain"}, {"kind", "start"}, {"command", command}});
  Trainer trainer(model, e.training, train, validation, e.identity(), e.run);
  trainer.set_data_parallel(group);
  trainer.set_bleu_scorer(validation_bleu_scorer(e, data_dir));
  TrainerPhase phase;
  phase.name = "pretrain";
  phase.checkpoint_dir = e.run.pretrain_dir();
  phase.epochs = o.epochs > 0 ? o.epochs : e.training.epochs;
  phase.restart = o.restart;
  if (adoption == ConfigAdoption::at_commit && !o.config.empty()) phase.restart_config = e.config.dump(2) + "\n";
  TrainingConfig resolved = e.training;  // every default filled in, the flags applied
  resolved.epochs = phase.epochs;
  phase.manifest = {{"phase", "pretrain"},
                    {"version", version_line()},
                    {"command", command},
                    {"config", {{"model", e.model.resolved_json()}, {"training", resolved.to_json()}}}};
  trainer.run(phase, out);
  out << "pretrain: done; best model " << (e.run.pretrain_dir() / "best.ckpt").string() << "\n";
  return 0;
}

Subcommand add_pretrain_command(CLI::App& app) {
  auto o = std::make_shared<PretrainOptions>();
  CLI::App* c = app.add_subcommand(
      "pretrain", "Train the full-precision model; resumes from the run's latest checkpoint. A config's "
                  "\"matmul_precision\" (" + matmul_precision_names().choices() + ") chooses bf16 dense-layer GEMMs on CPUs with AVX512-BF16 "
                  "or AMX (configs/small_bucketed.json). Under `mpirun -np N`: synchronous data-parallel training on "
                  "N ranks, each with a shard of every batch (docs/scaling.md)");
  c->add_option("--config", o->config, "Config file (required for a new run, e.g. configs/small_bucketed.json)");
  add_data_flag(c, o->data);
  add_run_flag(c, o->run);
  c->add_option("--epochs", o->epochs, "Epochs in total (default: the config's)")->check(kPositiveCount);
  add_matmul_precision_flag(c, o->matmul_precision);
  c->add_flag("--restart", o->restart,
              "Start from scratch instead of resuming, also with training settings that differ from the ones the "
              "run recorded (docs/training.md, \"Resuming and restarting\"); best.ckpt is kept unless a new epoch "
              "beats it");
  auto run = [o] {
    const RunLock lock(o->run, "pretrain", DataParallel::world().is_root());  // rank 0 writes the run
    return run_pretrain(*o, std::cout);
  };
  return {c, run, /*checkpoints_on_interrupt=*/true};
}

}  // namespace bcqnmt

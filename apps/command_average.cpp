// bcqnmt average: checkpoint averaging (optim/checkpoint_average.h) of the last N epoch
// checkpoints of pretraining. The average is validated and written to
// pretrain/averaged.ckpt; when it validates better than pretrain/best.ckpt it becomes
// best.ckpt, so evaluate, translate and quantize use it with no further flag. The promotion
// is a phase end like training's: best.ckpt and latest.ckpt are staged and published by one
// manifest commit (apps/run_manifest.h), so a kill leaves the old pair or the new one. Run
// it when no training is running in the same run directory (one writer per directory).
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/run_lock.h"
#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/trainer.h"
#include "apps/run_manifest.h"
#include "apps/validation_bleu.h"
#include "apps/model_loading.h"
#include "optim/checkpoint_average.h"
#include "optim/checkpoint_keeper.h"

namespace bcqnmt {

namespace {

// The last `last` epoch checkpoints of pretraining (their files in `paths`), each checked
// against the run and passed through the one loader first, so a NaN or Inf is blamed on its
// own file.
std::vector<Checkpoint> last_epoch_checkpoints(const Experiment& e, const CheckpointKeeper& keeper, int last,
                                               std::vector<std::filesystem::path>& paths) {
  paths = keeper.epoch_checkpoints();
  if (static_cast<int>(paths.size()) < last)
    throw AppError(e.run.pretrain_dir().string() + " holds " + std::to_string(paths.size()) +
                   " epoch checkpoints (epoch_NNN.ckpt), fewer than --last " + std::to_string(last) +
                   "; train with \"keep_epoch_checkpoints\" in the training config");
  paths.erase(paths.begin(), paths.end() - last);
  // The keeper keeps the last epochs in a row, so a gap means a file was lost: averaging
  // around it would silently mix epochs that --last N does not name.
  for (size_t i = 1; i < paths.size(); ++i)
    if (CheckpointKeeper::epoch_of(paths[i].filename().string()) !=
        CheckpointKeeper::epoch_of(paths[i - 1].filename().string()) + 1)
      throw AppError(e.run.pretrain_dir().string() + ": the last " + std::to_string(last) +
                     " epoch checkpoints are not consecutive (" + paths[i - 1].filename().string() + ", then " +
                     paths[i].filename().string() + "): an epoch checkpoint is missing");
  std::vector<Checkpoint> checkpoints;
  Transformer probe(e.model, e.training.seed);
  for (const auto& path : paths) {
    checkpoints.push_back(load_checkpoint(path));
    check_checkpoint_compatible(checkpoints.back(), path, e.model_json(), e.source_vocab.fingerprint(),
                                e.target_vocab.fingerprint());
    load_model_parameters(probe, checkpoints.back(), path);
  }
  return checkpoints;
}

}  // namespace

int run_average(const AverageOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");  // which finishes or undoes an interrupted commit
  const PhaseFiles files(e.run.pretrain_dir());
  CheckpointKeeper keeper(e.run.pretrain_dir(), e.training.best_metric, MetricGoal::maximize);
  // The value to beat is the one latest.ckpt records, so a corrupted best.ckpt would
  // otherwise be kept (or replaced) without a word.
  if (std::filesystem::exists(keeper.best_path()) && files.corrupted("best.ckpt"))
    throw AppError(keeper.best_path().string() + " is corrupted (it does not match the sha256 " +
                   files.manifest_path().string() +
                   " records and does not load), so the average cannot be compared with it; restore it, or remove it "
                   "and retrain with `bcqnmt pretrain --run " + o.run + " --restart`");
  keeper.stage_writes(".next");  // published by the commit below
  std::vector<std::filesystem::path> paths;
  std::vector<Checkpoint> checkpoints = last_epoch_checkpoints(e, keeper, o.last, paths);
  nlohmann::json epochs = nlohmann::json::array();
  for (const Checkpoint& c : checkpoints) epochs.push_back(c.epoch);
  Checkpoint average = average_checkpoints(checkpoints);
  checkpoints.clear();

  const std::string data_dir = resolve_data_dir(o.data);
  const EncodedCorpus train;  // not needed to validate
  const EncodedCorpus validation = load_encoded_split(e, data_dir, Split::kValidation, e.training.validation_limit);
  Transformer model(e.model, e.training.seed);
  load_model_parameters(model, average, paths.back());
  Trainer trainer(model, e.training, train, validation, e.identity(), e.run);
  trainer.set_bleu_scorer(validation_bleu_scorer(e, data_dir));
  const EvalResult val = trainer.validate();
  average.metrics["val_loss"] = val.loss;
  average.metrics["val_masked_accuracy"] = val.masked_accuracy;
  if (val.bleu) average.metrics["val_bleu"] = *val.bleu;
  average.metrics["averaged_epochs"] = static_cast<double>(paths.size());
  save_checkpoint(e.run.pretrain_dir() / "averaged.ckpt", average);
  out << "average: epochs " << epochs.dump() << " -> " << (e.run.pretrain_dir() / "averaged.ckpt").string()
      << ": val_loss " << val.loss << ", val_masked_accuracy " << val.masked_accuracy
      << (val.bleu ? ", val_bleu " + std::to_string(*val.bleu) : std::string()) << "\n";
  std::optional<double> before;
  const bool promoted = keeper.promote_if_better(average, &before);
  if (promoted) {
    // The phase's record (a run made before manifests gets a first one), with the new digests.
    nlohmann::json record = files.manifest().value_or(nlohmann::json{{"phase", "pretrain"}});
    record["averaged_epochs"] = epochs;
    files.commit(record);
  }
  if (promoted)
    out << "average: better than the best single epoch ("
        << (before ? std::to_string(*before) : std::string("none")) << "); it is now " << keeper.best_path().string()
        << "\n";
  else
    out << "average: not better than " << keeper.best_path().string() << " (" << e.training.best_metric << " " << *before
        << "), which stays\n";
  nlohmann::json record{{"phase", "pretrain"},         {"kind", "average"},
                        {"epochs", epochs},              {"val_loss", val.loss},
                        {"val_masked_accuracy", val.masked_accuracy}, {"became_best", promoted}};
  if (val.bleu) record["val_bleu"] = *val.bleu;
  e.run.append_metrics(record);
  return 0;
}

Subcommand add_average_command(CLI::App& app) {
  auto o = std::make_shared<AverageOptions>();
  CLI::App* c = app.add_subcommand(
      "average", "Checkpoint averaging: the mean of the last N epoch checkpoints of pretraining; it becomes "
                 "pretrain/best.ckpt if it validates better");
  add_run_flag(c, o->run);
  add_data_flag(c, o->data);
  c->add_option("--last", o->last, "How many of the last epoch checkpoints to average")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  return {c, [o] {
            const RunLock lock(o->run, "average");
            return run_average(*o, std::cout);
          }};
}

}  // namespace bcqnmt

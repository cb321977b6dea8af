#pragma once
// The training loop shared by pretraining and quantization-aware training: Keras-style
// epochs, validation after each, latest/best checkpoints, exact resume, and a clean stop
// on SIGINT/SIGTERM. A phase plugs in what differs (BCQ projection before validation,
// writing the packed model when validation improves).
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "apps/run_directory.h"
#include "apps/run_manifest.h"
#include "apps/training_config.h"
#include "data/batch.h"
#include "data/encoded_corpus.h"
#include "nn/transformer.h"
#include "optim/checkpoint.h"
#include "optim/data_parallel.h"
#include "optim/learning_rate_schedule.h"

namespace bcqnmt {

// When a phase's training is over: every epoch asked for is trained, or early stopping ended it
// (`patience` validations in a row without a new best; 0 turns it off). The trainer's loop and
// the commands that pick a finished model (export) share this rule.
struct PhaseStanding {
  int64_t epochs_done = 0;
  int validations_since_best = 0;  // stored in checkpoints as kValidationsSinceBest
  bool patience_exhausted(int patience) const { return patience > 0 && validations_since_best >= patience; }
  bool finished(int epochs, int patience) const { return epochs_done >= epochs || patience_exhausted(patience); }
};
// The checkpoint metric that holds PhaseStanding::validations_since_best.
inline constexpr const char* kValidationsSinceBest = "validations_since_best";
// Where the phase whose latest checkpoint is `latest` stands.
PhaseStanding phase_standing(const Checkpoint& latest);

struct EvalResult {
  double loss = 0.0;             // mean over non-pad target tokens
  double masked_accuracy = 0.0;
  int64_t tokens = 0;
  std::optional<double> bleu;    // "val_bleu", when the trainer has a BLEU scorer
  // The value of a TrainingConfig::best_metric name ("val_masked_accuracy", "val_bleu").
  double metric(const std::string& name) const;
};

// BLEU of a model's translations of a fixed set of sentences (apps/validation_bleu.h).
using BleuScorer = std::function<double(const Transformer&)>;

struct TrainerPhase {
  std::string name;     // "pretrain" or "quantize"
  std::string variant;  // the quantized variant ("" for pretraining); tags its metrics records
  std::filesystem::path checkpoint_dir;
  int epochs = 1;
  // Start from scratch even though the phase has checkpoints (`--restart`); best.ckpt is
  // kept, with its value as the one to beat. Without it, a phase that has a best.ckpt but
  // no latest.ckpt refuses to start, since starting over could replace a better model.
  bool restart = false;
  // With `restart`: the config file's text that becomes the run's config.json with the
  // first commit of the new training ("" for none; see ConfigAdoption, apps/experiment.h).
  std::string restart_config;
  // Validate (and checkpoint) every N steps as well as at the end of each epoch; 0: only at
  // epoch ends. The reference advises projecting every 500-2,000 steps.
  int64_t validate_every = 0;
  // Called before every validation (e.g. project weights onto BCQ).
  std::function<void(Transformer&)> before_validation;
  // Called when validation improved and best.ckpt was staged; writes the phase's derived
  // model to PhaseFiles(checkpoint_dir).staged(...), committed with the checkpoints.
  std::function<void(Transformer&)> on_improved;
  // The phase's manifest record (apps/run_manifest.h: phase, version, resolved config,
  // source); every checkpoint commit writes it with "step" and the files' digests.
  nlohmann::json manifest = nlohmann::json::object();
  // The training loss of one batch (e.g. with distillation); unset: the model's masked_loss.
  // Validation always uses masked_loss, so val_loss compares across phases and variants.
  std::function<Variable(const Transformer&, const Batch&, TokenCounts*)> loss;
  // The learning rate. Unset: the Noam schedule with the config's warmup_steps, counted from
  // the phase's first step (pretraining; the reference's quantization phase). Set: a linear
  // decay to 0 at the phase's last step, `epochs` x the batches of an epoch, so a phase
  // resumed with more epochs stretches its decay from there on.
  std::optional<LinearDecay> linear_decay;
};

class Trainer {
 public:
  Trainer(Transformer& model, const TrainingConfig& config, const EncodedCorpus& train, const EncodedCorpus& validation,
          CheckpointIdentity identity, RunDirectory run);
  // Trains until phase.epochs are done. Resumes from checkpoint_dir/latest.ckpt when it
  // exists; otherwise starts from the model's current weights with a fresh optimizer and
  // warm-up. On SIGINT/SIGTERM it checkpoints and throws TrainingInterrupted.
  void run(const TrainerPhase& phase, std::ostream& out);
  // Loss and masked accuracy of the model on `split` (eval mode, no gradients).
  EvalResult evaluate(const EncodedCorpus& split) const;
  // evaluate(validation), plus val_bleu from the BLEU scorer when one is set.
  EvalResult validate() const;
  // Every validation also scores BLEU with `scorer` (an empty function: none).
  void set_bleu_scorer(BleuScorer scorer) { bleu_scorer_ = std::move(scorer); }
  // Trains and validates as one rank of `group` (optim/data_parallel.h): a shard of every
  // batch, gradients and validation sums reduced over the ranks, files written by rank 0
  // alone. The run directory must be visible to every rank. Default: a group of one.
  void set_data_parallel(DataParallel& group) { group_ = &group; }

 private:
  class PhaseRun;  // one run of a phase (trainer.cpp)
  Transformer& model_;
  TrainingConfig config_;
  const EncodedCorpus& train_;
  const EncodedCorpus& validation_;
  CheckpointIdentity identity_;
  RunDirectory run_;
  BleuScorer bleu_scorer_;
  DataParallel* group_ = &DataParallel::single_process();
};

}  // namespace bcqnmt

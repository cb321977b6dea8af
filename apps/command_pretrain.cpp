// bcqnmt pretrain: full-precision training with the reference protocol.
#include <ostream>

#include "apps/commands.h"
#include "apps/experiment.h"

namespace bcqnmt {

int run_pretrain(const PretrainOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, o.config);
  const std::string data_dir = resolve_data_dir(o.data);
  const EncodedCorpus train = load_encoded_split(e, data_dir, Split::kTrain, e.training.train_limit);
  const EncodedCorpus validation = load_encoded_split(e, data_dir, Split::kValidation, e.training.validation_limit);
  Transformer model(e.model, e.training.seed);
  out << "pretrain: " << model.num_parameters() << " parameters, " << train.size() << " training pairs, "
      << validation.size() << " validation pairs, batcher " << e.training.batcher << "\n";
  Trainer trainer(model, e.training, train, validation, e.identity(), e.run);
  TrainerPhase phase;
  phase.name = "pretrain";
  phase.checkpoint_dir = e.run.pretrain_dir();
  phase.epochs = o.epochs > 0 ? o.epochs : e.training.epochs;
  trainer.run(phase, out);
  out << "pretrain: done; best model " << (e.run.pretrain_dir() / "best.ckpt").string() << "\n";
  return 0;
}

}  // namespace bcqnmt

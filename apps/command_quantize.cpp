// bcqnmt quantize: BCQ quantization-aware training, warm-started from the pretrained model.
//   projection (the reference): train in fp32; every epoch (or --project-every steps)
//     quantize all weights, overwrite them with their dequantized values, validate, keep
//     the best quantized model; Adam and the warm-up restart for this phase.
//   ste: forward through dequantize(quantize(W)), gradients straight to the fp32 latent W.
#include <ostream>

#include "apps/app_error.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

std::vector<int64_t> token_counts(const std::vector<std::vector<int32_t>>& sentences, int64_t vocab_size) {
  std::vector<int64_t> counts(vocab_size, 0);
  for (const auto& s : sentences)
    for (int32_t id : s) ++counts[id];
  return counts;
}

}  // namespace

int run_quantize(const QuantizeOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");
  const auto pretrained = e.run.pretrain_dir() / "best.ckpt";
  e.run.require(pretrained, "pretrain");
  QuantizationConfig q = e.quantization;  // flags override the config
  if (o.bits_set) q.bits = o.bits;
  if (!o.bits_config.empty()) q.bits_config = o.bits_config;
  if (o.solver_set) q.solver = o.solver;
  if (o.mode_set) q.mode = o.mode;
  if (o.epochs > 0) q.epochs = o.epochs;
  if (o.project_every > 0) q.project_every = o.project_every;

  const std::string data_dir = resolve_data_dir(o.data);
  const EncodedCorpus train = load_encoded_split(e, data_dir, Split::kTrain, e.training.train_limit);
  const EncodedCorpus validation = load_encoded_split(e, data_dir, Split::kValidation, e.training.validation_limit);

  QuantizeSettings settings;
  settings.bits = q.bits_config.empty() ? BitAllocation::uniform(q.bits) : load_bit_allocation(q.bits_config);
  settings.solver.method = bcq_method_from_name(q.solver);
  settings.solver.cycles = q.cycles;
  settings.solver.group_size = q.group_size;
  settings.source_token_counts = token_counts(train.source, e.source_vocab.size());
  settings.target_token_counts = token_counts(train.target, e.target_vocab.size());

  Transformer model(e.model, e.training.seed);
  {
    const Checkpoint c = load_checkpoint(pretrained);
    check_checkpoint_compatible(c, pretrained, e.model_json(), e.source_vocab.fingerprint(), e.target_vocab.fingerprint());
    load_model_parameters(model, c, pretrained);
  }
  out << "quantize: " << q.mode << " mode, solver " << q.solver << ", "
      << (q.bits_config.empty() ? std::to_string(q.bits) + " bits" : "bits from " + q.bits_config) << ", "
      << q.epochs << " epochs, warm start from " << pretrained.string() << "\n";

  TrainerPhase phase;
  phase.name = "quantize";
  phase.checkpoint_dir = e.run.quantize_dir();
  phase.epochs = q.epochs;
  phase.validate_every = q.project_every;
  BcqModel projected;
  auto save_bcq = [&](const BcqModel& bcq) {
    bcq.save(e.run.bcq_model(), model, e.source_vocab.fingerprint(), e.target_vocab.fingerprint());
    out << "quantize: wrote " << e.run.bcq_model().string() << "\n";
  };
  if (q.mode == "projection") {
    phase.before_validation = [&](Transformer& m) {
      projected = BcqModel::quantize(m, settings);
      projected.write_dequantized(m);
      out << "Weights set to quantized-dequantized equivalent (" << projected.matrices().size() << " matrices)\n";
    };
    phase.on_improved = [&](Transformer&) { save_bcq(projected); };
  } else {
    enable_straight_through(model, settings);
    phase.on_improved = [&](Transformer& m) { save_bcq(BcqModel::quantize(m, settings)); };
  }
  Trainer trainer(model, e.training, train, validation, e.identity(), e.run);
  trainer.run(phase, out);
  out << "quantize: done; best quantized model " << e.run.bcq_model().string() << "\n";
  return 0;
}

}  // namespace bcqnmt

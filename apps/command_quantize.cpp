// bcqnmt quantize: BCQ quantization-aware training, warm-started from the pretrained model.
//   projection (the reference): train in fp32; every epoch (or --project-every steps)
//     quantize all weights, overwrite them with their dequantized values, validate, keep
//     the best quantized model; Adam and the warm-up restart for this phase.
//   ste: forward through dequantize(quantize(W)), gradients straight to the fp32 latent W.
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/app_error.h"
#include "apps/command_line.h"
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
  q.bits = o.bits.value_or(q.bits);
  if (!o.bits_config.empty()) q.bits_config = o.bits_config;
  q.solver = o.solver.value_or(q.solver);
  q.mode = o.mode.value_or(q.mode);
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

Subcommand add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* c = app.add_subcommand("quantize", "BCQ quantization-aware training from the pretrained model; writes RUN/model.bcq");
  add_run_flag(c, o->run);
  add_data_flag(c, o->data);
  c->add_option("--bits", o->bits, "Bits per weight for every quantized group (default: the config's, 3)")
      ->check(CLI::Range(1, 8));
  c->add_option("--bits-config", o->bits_config, "JSON bit allocation per parameter group (overrides --bits)")
      ->check(CLI::ExistingFile);
  c->add_option("--solver", o->solver, "BCQ solver (default: the config's, greedy as the reference)")
      ->check(CLI::IsMember(bcq_method_names()));
  c->add_option("--mode", o->mode,
                "projection: project every N steps as the reference; ste: straight-through estimator "
                "(default: the config's, projection)")
      ->check(CLI::IsMember(quantization_mode_names()));
  c->add_option("--epochs", o->epochs, "Epochs of quantization-aware training (default: the config's)")
      ->check(CLI::PositiveNumber);
  c->add_option("--project-every", o->project_every, "Projection mode: steps between projections (default: one epoch)")
      ->check(CLI::NonNegativeNumber);
  return {c, [o] { return run_quantize(*o, std::cout); }};
}

}  // namespace bcqnmt

// bcqnmt quantize: one named BCQ variant of the pretrained model (apps/quantized_variant.h).
//   ptq: post-training quantization, the pretrained weights quantized once, no retraining.
//   projection (the reference): train in fp32; every epoch (or --project-every steps)
//     quantize all weights, overwrite them with their dequantized values, validate, keep
//     the best quantized model; Adam and the warm-up restart for this phase.
//   ste: forward through dequantize(quantize(W)), gradients straight to the fp32 latent W.
// Both training modes can distil the fp32 model's token distributions (nn/distillation.h).
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <ostream>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/trainer.h"
#include "apps/model_loading.h"
#include "apps/quantized_variant.h"
#include "apps/run_manifest.h"
#include "apps/validation_bleu.h"
#include "apps/version.h"
#include "nn/distillation.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

std::vector<int64_t> token_counts(const std::vector<std::vector<int32_t>>& sentences, int64_t vocab_size) {
  std::vector<int64_t> counts(vocab_size, 0);
  for (const auto& s : sentences)
    for (int32_t id : s) ++counts[id];
  return counts;
}

// The command that makes this variant, with the flags the user gave (the rest come from the
// run's config), for the results table.
std::string command_line(const QuantizeOptions& o, const std::string& name) {
  std::ostringstream c;
  c << "bcqnmt quantize --run " << o.run << " --name " << name;
  if (o.mode) c << " --mode " << *o.mode;
  if (o.bits) c << " --bits " << *o.bits;
  if (!o.bits_config.empty()) c << " --bits-config " << o.bits_config;
  if (o.solver) c << " --solver " << *o.solver;
  if (o.epochs) c << " --epochs " << *o.epochs;
  if (o.project_every) c << " --project-every " << *o.project_every;
  if (o.distill_weight) c << " --distill " << *o.distill_weight;
  return c.str();
}

}  // namespace

int run_quantize(const QuantizeOptions& o, std::ostream& terminal) {
  DataParallel& group = DataParallel::world();  // one rank of `mpirun -np N` (docs/scaling.md)
  std::ostream& out = group.root_stream(terminal);
  Experiment e = open_experiment(o.run, "");
  const auto pretrained = e.run.pretrain_dir() / "best.ckpt";
  e.run.require(pretrained, "pretrain");
  QuantizationConfig q = e.quantization;  // flags override the config
  q.bits = o.bits.value_or(q.bits);
  if (!o.bits_config.empty()) q.bits_config = o.bits_config;
  if (o.solver) q.solver = bcq_method_names().parse<UsageError>(*o.solver);
  if (o.mode) q.mode = quantization_mode_names().parse<UsageError>(*o.mode);
  q.epochs = o.epochs.value_or(q.epochs);
  q.project_every = o.project_every.value_or(q.project_every);
  q.distill_weight = o.distill_weight.value_or(q.distill_weight);
  if (q.mode == QuantizationMode::ptq && (o.epochs || o.project_every || o.distill_weight))
    throw UsageError("quantize: --epochs, --project-every and --distill train; --mode ptq does not train");
  const std::string name = o.name.empty() ? default_variant_name(q) : o.name;
  // Read before anything is written, so a missing or bad file leaves the run as it was.
  const BitAllocation bits = q.bits_config.empty() ? BitAllocation::uniform(q.bits) : load_bit_allocation(q.bits_config);
  adopt_variant_settings(e.run, name, variant_settings(q));
  if (group.is_root())
    e.run.append_metrics({{"phase", "quantize"}, {"variant", name}, {"kind", "start"}, {"command", command_line(o, name)}});

  const std::string data_dir = resolve_data_dir(o.data);
  const EncodedCorpus train = load_encoded_split(e, data_dir, Split::kTrain, e.training.train_limit);
  const EncodedCorpus validation = load_encoded_split(e, data_dir, Split::kValidation, e.training.validation_limit);

  QuantizeSettings settings;
  settings.bits = bits;
  settings.solver = q.solver_options();
  settings.source_token_counts = token_counts(train.source, e.source_vocab.size());
  settings.target_token_counts = token_counts(train.target, e.target_vocab.size());

  int64_t source_step = 0;
  auto load_pretrained = [&] {
    auto m = std::make_unique<Transformer>(e.model, e.training.seed);
    const Checkpoint c = load_checkpoint(pretrained);
    check_checkpoint_compatible(c, pretrained, e.model_json(), e.source_vocab.fingerprint(), e.target_vocab.fingerprint());
    load_model_parameters(*m, c, pretrained);
    source_step = c.step;
    return m;
  };
  const std::unique_ptr<Transformer> model = load_pretrained();
  const auto bcq_path = e.run.bcq_model(name);
  const PhaseFiles files(e.run.variant_dir(name));
  const nlohmann::json manifest = {
      {"phase", "quantize"},
      {"variant", name},
      {"version", version_line()},
      {"command", command_line(o, name)},
      {"config", {{"model", e.model.to_json()}, {"training", e.training.to_json()}, {"quantization", q.to_json()}}},
      {"source", variant_source(e.run, source_step)}};
  // A variant of an earlier pretrain/best.ckpt neither resumes nor keeps its best model (it
  // would be recorded as derived from the current one): --restart makes it afresh.
  if (const auto previous = files.manifest();
      previous && previous->contains("source") && previous->at("source").value("sha256", "") != manifest["source"]["sha256"]) {
    const std::string what = e.run.variant_dir(name).string() + " was quantized from an earlier " +
                             pretrained.string() + " (step " +
                             std::to_string(previous->at("source").value("step", int64_t{0})) + ")";
    if (!o.restart) throw AppError(what + "; it cannot resume from the current one: pass --restart to quantize it afresh");
    out << "quantize: " << what << "; --restart: its checkpoints and model.bcq are removed\n";
    files.discard();
  }
  out << "quantize: variant \"" << name << "\": " << quantization_mode_names().name(q.mode) << " mode, solver "
      << bcq_method_names().name(q.solver) << ", "
      << (q.bits_config.empty() ? std::to_string(q.bits) + " bits" : "bits from " + q.bits_config);
  if (q.mode != QuantizationMode::ptq) out << ", " << q.epochs << " epochs";
  if (q.distill_weight > 0.0) out << ", distillation weight " << q.distill_weight;
  out << ", from " << pretrained.string() << "\n";
  // Staged: the trainer commits it with the checkpoints of the same validation.
  auto save_bcq = [&](const BcqModel& bcq) {
    if (!group.is_root()) return;
    bcq.save(files.staged(bcq_path.filename().string()), *model, e.source_vocab.fingerprint(),
             e.target_vocab.fingerprint());
    out << "quantize: wrote " << bcq_path.string() << "\n";
  };
  Trainer trainer(*model, e.training, train, validation, e.identity(), e.run);
  trainer.set_bleu_scorer(validation_bleu_scorer(e, data_dir));
  trainer.set_data_parallel(group);

  if (q.mode == QuantizationMode::ptq) {
    const auto start = std::chrono::steady_clock::now();
    const BcqModel bcq = BcqModel::quantize(*model, settings);
    bcq.write_dequantized(*model);
    const EvalResult val = trainer.validate();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    save_bcq(bcq);
    nlohmann::json committed = manifest;
    committed["step"] = 0;
    files.commit(committed);
    nlohmann::json record{{"phase", "quantize"}, {"variant", name}, {"kind", "validation"}, {"epoch", 0},
                          {"step", 0}, {"seconds", seconds}, {"val_loss", val.loss},
                          {"val_masked_accuracy", val.masked_accuracy}};
    if (val.bleu) record["val_bleu"] = *val.bleu;
    if (group.is_root()) e.run.append_metrics(record);
    out << "quantize: post-training quantization, no retraining: val_loss " << val.loss << ", val_masked_accuracy "
        << val.masked_accuracy << " (" << seconds << " s)\n";
    return 0;
  }

  TrainerPhase phase;
  phase.name = "quantize";
  phase.variant = name;
  phase.checkpoint_dir = e.run.variant_dir(name);
  phase.epochs = q.epochs;
  phase.restart = o.restart;
  phase.validate_every = q.project_every;
  phase.manifest = manifest;
  std::unique_ptr<Transformer> teacher;
  std::unique_ptr<Distillation> distillation;
  if (q.distill_weight > 0.0) {
    teacher = load_pretrained();
    teacher->eval();
    distillation = std::make_unique<Distillation>(*teacher, q.distill_weight);
    phase.loss = [&](const Transformer& student, const Batch& b, TokenCounts* counts) {
      return distillation->loss(student, b.source, b.target_in, b.target_out, counts);
    };
  }
  BcqModel projected;
  if (q.mode == QuantizationMode::projection) {
    phase.before_validation = [&](Transformer& m) {
      projected = BcqModel::quantize(m, settings);
      projected.write_dequantized(m);
      out << "Weights set to quantized-dequantized equivalent (" << projected.matrices().size() << " matrices)\n";
    };
    phase.on_improved = [&](Transformer&) { save_bcq(projected); };
  } else {
    enable_straight_through(*model, settings);
    phase.on_improved = [&](Transformer& m) { save_bcq(BcqModel::quantize(m, settings)); };
  }
  trainer.run(phase, out);
  out << "quantize: done; best quantized model " << bcq_path.string() << "\n";
  return 0;
}

Subcommand add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* c = app.add_subcommand(
      "quantize", "Make a BCQ variant of the pretrained model: RUN/quantized/NAME/model.bcq. Under `mpirun -np N`: "
                  "data-parallel over N ranks (docs/scaling.md)");
  add_run_flag(c, o->run);
  add_data_flag(c, o->data);
  c->add_option("--name", o->name,
                "Variant name (default: from the settings, e.g. 3bit-greedy-projection); an existing variant of "
                "this name resumes, and must have the same settings")
      ->check([](const std::string& name) {
        try {
          check_variant_name(name);
          return std::string();
        } catch (const AppError& e) {
          return std::string(e.what());
        }
      });
  c->add_option("--bits", o->bits, "Bits per weight for every quantized group (default: the run config's \"bits\"; without one, 3)")
      ->check(CLI::Range(1, 8));
  c->add_option("--bits-config", o->bits_config, "JSON bit allocation per parameter group (overrides --bits)");
  c->add_option("--solver", o->solver, "BCQ solver (default: the run config's \"solver\"; without one, greedy as the reference)")
      ->check(CLI::IsMember(bcq_method_names().names()));
  c->add_option("--mode", o->mode,
                "projection: train, project every N steps as the reference; ste: train with the straight-through "
                "estimator; ptq: quantize once, no training (default: the run config's \"mode\"; without one, projection)")
      ->check(CLI::IsMember(quantization_mode_names().names()));
  c->add_option("--epochs", o->epochs, "Epochs of quantization-aware training (default: the config's)")
      ->check(kPositiveCount);
  c->add_option("--project-every", o->project_every, "Projection mode: steps between projections (0: one epoch)")
      ->check(kNonNegativeCount);
  c->add_option("--distill", o->distill_weight,
                "Knowledge distillation from the fp32 model: weight of the token-level KL term, 0..1 (default: the "
                "config's, 0)")
      ->check(CLI::Range(0.0, 1.0));
  c->add_flag("--restart", o->restart,
              "Start the variant's training from scratch instead of resuming; its best model is kept unless beaten");
  return {c, [o] { return run_quantize(*o, std::cout); }, /*checkpoints_on_interrupt=*/true};
}

}  // namespace bcqnmt

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

#include "apps/run_lock.h"
#include "optim/data_parallel.h"
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
  // Numbers as JSON writes them, the shortest text that reads back as the same double, so
  // the command resumes the variant whose settings.json holds them.
  if (o.distill_weight) c << " --distill " << nlohmann::json(*o.distill_weight).dump();
  if (o.lr_schedule) c << " --lr-schedule " << *o.lr_schedule;
  if (o.learning_rate) c << " --learning-rate " << nlohmann::json(*o.learning_rate).dump();
  return c.str();
}

// The flags over the run's config section: the settings this invocation quantizes with.
QuantizationConfig resolve_settings(const QuantizeOptions& o, const QuantizationConfig& config) {
  QuantizationConfig q = config;
  q.bits = o.bits.value_or(q.bits);
  if (!o.bits_config.empty()) q.bits_config = o.bits_config;
  if (o.solver) q.solver = bcq_method_names().parse<UsageError>(*o.solver);
  if (o.mode) q.mode = quantization_mode_names().parse<UsageError>(*o.mode);
  q.epochs = o.epochs.value_or(q.epochs);
  q.project_every = o.project_every.value_or(q.project_every);
  q.distill_weight = o.distill_weight.value_or(q.distill_weight);
  if (o.lr_schedule) q.lr_schedule = learning_rate_shape_names().parse<UsageError>(*o.lr_schedule);
  q.learning_rate = o.learning_rate.value_or(q.learning_rate);
  const bool training_flags = o.epochs || o.project_every || o.distill_weight || o.lr_schedule || o.learning_rate;
  if (q.mode == QuantizationMode::ptq && training_flags)
    throw UsageError("quantize: --epochs, --project-every, --distill, --lr-schedule and --learning-rate train; "
                     "--mode ptq does not train");
  if (o.learning_rate && q.lr_schedule != LearningRateShape::linear_decay)
    throw UsageError("quantize: --learning-rate is the peak of --lr-schedule linear_decay; the noam schedule takes its "
                     "rate from the run's d_model and warmup_steps");
  try {
    q.check_learning_rate();
  } catch (const AppError& e) {
    throw UsageError(std::string("quantize: ") + e.what());
  }
  return q;
}

// pretrain/best.ckpt, which every variant derives from; AppError when pretraining has not
// saved it yet.
std::filesystem::path required_pretrained(const Experiment& e) {
  const auto path = e.run.pretrain_dir() / "best.ckpt";
  e.run.require(path, "pretrain");
  return path;
}

// One invocation of `quantize`, in the order it runs: settings and the variant's name
// (nothing written before they are valid), the corpus and the pretrained model, the stale-
// source check, then post-training quantization or quantization-aware training. The steps
// share the run's state, hence a class rather than one long function.
class QuantizeRun {
 public:
  QuantizeRun(const QuantizeOptions& o, std::ostream& terminal)
      : o_(o),
        group_(DataParallel::world()),  // one rank of `mpirun -np N` (docs/scaling.md)
        out_(group_.root_stream(terminal)),
        e_(open_experiment(o.run, "")),
        pretrained_(required_pretrained(e_)),
        q_(resolve_settings(o, e_.quantization)),
        name_(o.name.empty() ? default_variant_name(q_) : o.name),
        // Read before anything is written, so a missing or bad file leaves the run as it was.
        bits_(q_.bits_config.empty() ? BitAllocation::uniform(q_.bits) : load_bit_allocation(q_.bits_config)),
        files_(e_.run.variant_dir(name_)) {
    const std::string replaced = adopt_variant_settings(e_.run, name_, variant_settings(q_), o.restart);
    if (!replaced.empty())
      out_ << "quantize: --restart: variant " << name_ << " was made with other settings (" << replaced
           << "); its checkpoints and model.bcq are removed\n";
    if (group_.is_root())
      e_.run.append_metrics({{"phase", "quantize"}, {"variant", name_}, {"kind", "start"}, {"command", command_line(o, name_)}});
    data_dir_ = resolve_data_dir(o.data);
    train_ = load_encoded_split(e_, data_dir_, Split::kTrain, e_.training.train_limit);
    validation_ = load_encoded_split(e_, data_dir_, Split::kValidation, e_.training.validation_limit);
    settings_.bits = bits_;
    settings_.solver = q_.solver_options();
    settings_.source_token_counts = token_counts(train_.source, e_.source_vocab.size());
    settings_.target_token_counts = token_counts(train_.target, e_.target_vocab.size());
    model_ = load_pretrained();
    manifest_ = {{"phase", "quantize"},
                 {"variant", name_},
                 {"version", version_line()},
                 {"command", command_line(o, name_)},
                 {"config",
                  {{"model", e_.model.resolved_json()},
                   {"training", e_.training.to_json()},
                   {"quantization", q_.to_json()}}},
                 {"source", variant_source(e_.run, source_step_)}};
  }

  int run() {
    refuse_stale_source();
    announce();
    Trainer trainer(*model_, e_.training, train_, validation_, e_.identity(), e_.run);
    trainer.set_bleu_scorer(validation_bleu_scorer(e_, data_dir_));
    trainer.set_data_parallel(group_);
    if (q_.mode == QuantizationMode::ptq) post_training(trainer);
    else train(trainer);
    return 0;
  }

 private:
  std::unique_ptr<Transformer> load_pretrained() {
    auto m = std::make_unique<Transformer>(e_.model, e_.training.seed);
    const Checkpoint c = load_checkpoint(pretrained_);
    check_checkpoint_compatible(c, pretrained_, e_.model_json(), e_.source_vocab.fingerprint(), e_.target_vocab.fingerprint());
    load_model_parameters(*m, c, pretrained_);
    source_step_ = c.step;
    return m;
  }

  // A variant of an earlier pretrain/best.ckpt neither resumes nor keeps its best model (it
  // would be recorded as derived from the current one): --restart makes it afresh.
  void refuse_stale_source() const {
    const auto previous = files_.manifest();
    if (!previous || !previous->contains("source") ||
        previous->at("source").value("sha256", "") == manifest_["source"]["sha256"])
      return;
    const std::string what = e_.run.variant_dir(name_).string() + " was quantized from an earlier " +
                             pretrained_.string() + " (step " +
                             std::to_string(previous->at("source").value("step", int64_t{0})) + ")";
    if (!o_.restart) throw AppError(what + "; it cannot resume from the current one: pass --restart to quantize it afresh");
    out_ << "quantize: " << what << "; --restart: its checkpoints and model.bcq are removed\n";
    files_.discard();
  }

  void announce() const {
    out_ << "quantize: variant \"" << name_ << "\": " << quantization_mode_names().name(q_.mode) << " mode, solver "
         << bcq_method_names().name(q_.solver) << ", "
         << (q_.bits_config.empty() ? std::to_string(q_.bits) + " bits" : "bits from " + q_.bits_config);
    if (q_.mode != QuantizationMode::ptq) out_ << ", " << q_.epochs << (q_.epochs == 1 ? " epoch" : " epochs");
    if (q_.distill_weight > 0.0) out_ << ", distillation weight " << q_.distill_weight;
    if (q_.trains_with_linear_decay())
      out_ << ", learning rate " << nlohmann::json(q_.learning_rate).dump() << " after " << q_.lr_warmup_steps
           << " warm-up steps, decaying linearly to 0";
    out_ << ", from " << pretrained_.string() << "\n";
  }

  // Staged: committed with the checkpoints of the same validation (apps/run_manifest.h).
  void save_bcq(const BcqModel& bcq) const {
    if (!group_.is_root()) return;
    const auto bcq_path = e_.run.bcq_model(name_);
    bcq.save(files_.staged(bcq_path.filename().string()), *model_, e_.source_vocab.fingerprint(),
             e_.target_vocab.fingerprint());
    out_ << "quantize: wrote " << bcq_path.string() << "\n";
  }

  void post_training(Trainer& trainer) {
    const auto start = std::chrono::steady_clock::now();
    const BcqModel bcq = BcqModel::quantize(*model_, settings_);
    bcq.write_dequantized(*model_);
    const EvalResult val = trainer.validate();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    save_bcq(bcq);
    nlohmann::json record{{"phase", "quantize"}, {"variant", name_}, {"kind", "validation"}, {"epoch", 0},
                          {"step", 0}, {"seconds", seconds}, {"val_loss", val.loss},
                          {"val_masked_accuracy", val.masked_accuracy}};
    if (val.bleu) record["val_bleu"] = *val.bleu;
    if (group_.is_root()) {
      nlohmann::json committed = manifest_;
      committed["step"] = 0;
      files_.commit(committed);
      e_.run.append_metrics(record);
    }
    out_ << "quantize: post-training quantization, no retraining: val_loss " << val.loss << ", val_masked_accuracy "
         << val.masked_accuracy << " (" << seconds << " s)\n";
  }

  // Projection or STE training, optionally distilled from the fp32 model.
  void train(Trainer& trainer) {
    TrainerPhase phase;
    phase.name = "quantize";
    phase.variant = name_;
    phase.checkpoint_dir = e_.run.variant_dir(name_);
    phase.epochs = q_.epochs;
    phase.restart = o_.restart;
    phase.validate_every = q_.project_every;
    phase.manifest = manifest_;
    if (q_.trains_with_linear_decay())
      phase.linear_decay = LinearDecay{q_.learning_rate, q_.lr_warmup_steps};
    std::unique_ptr<Transformer> teacher;
    std::unique_ptr<Distillation> distillation;
    if (q_.distill_weight > 0.0) {
      teacher = load_pretrained();
      teacher->eval();
      distillation = std::make_unique<Distillation>(*teacher, q_.distill_weight);
      phase.loss = [&](const Transformer& student, const Batch& b, TokenCounts* counts) {
        return distillation->loss(student, b.source, b.target_in, b.target_out, counts);
      };
    }
    BcqModel projected;
    if (q_.mode == QuantizationMode::projection) {
      phase.before_validation = [&](Transformer& m) {
        projected = BcqModel::quantize(m, settings_);
        projected.write_dequantized(m);
        out_ << "Weights set to quantized-dequantized equivalent (" << projected.matrices().size() << " matrices)\n";
      };
      phase.on_improved = [&](Transformer&) { save_bcq(projected); };
    } else {
      enable_straight_through(*model_, settings_);
      phase.on_improved = [&](Transformer& m) { save_bcq(BcqModel::quantize(m, settings_)); };
    }
    trainer.run(phase, out_);
    out_ << "quantize: done; best quantized model " << e_.run.bcq_model(name_).string() << "\n";
  }

  const QuantizeOptions& o_;
  DataParallel& group_;
  std::ostream& out_;
  Experiment e_;
  const std::filesystem::path pretrained_;
  const QuantizationConfig q_;
  const std::string name_;
  const BitAllocation bits_;
  const PhaseFiles files_;
  std::string data_dir_;
  EncodedCorpus train_, validation_;
  QuantizeSettings settings_;
  int64_t source_step_ = 0;  // of pretrain/best.ckpt, set by load_pretrained
  std::unique_ptr<Transformer> model_;
  nlohmann::json manifest_;
};

}  // namespace

int run_quantize(const QuantizeOptions& o, std::ostream& terminal) { return QuantizeRun(o, terminal).run(); }

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
      ->check(number_between(0.0, 1.0));
  c->add_option("--lr-schedule", o->lr_schedule,
                "Learning rate of the training modes: noam, pretraining's warm-up and 1/sqrt decay started again "
                "(the reference); linear_decay, a warm-up of the config's \"lr_warmup_steps\" (without one, " +
                    std::to_string(QuantizationConfig{}.lr_warmup_steps) +
                    ") to --learning-rate, then a line down to 0 one step after the last epoch's end; resumed with "
                    "more --epochs, the line is drawn again over the longer phase, so the rate rises (default: the "
                    "config's \"lr_schedule\"; without one, noam)")
      ->check(CLI::IsMember(learning_rate_shape_names().names()));
  c->add_option("--learning-rate", o->learning_rate,
                "Peak learning rate of --lr-schedule linear_decay (default: the config's \"learning_rate\"; without "
                "one, " + nlohmann::json(QuantizationConfig{}.learning_rate).dump() + ")")
      ->check(number_between(0.0, 1.0));
  c->add_flag("--restart", o->restart,
              "Start the variant's training from scratch instead of resuming; its best model is kept unless beaten "
              "(a variant made with other settings is replaced)");
  auto run = [o] {
    const RunLock lock(o->run, "quantize", DataParallel::world().is_root());  // rank 0 writes the run
    return run_quantize(*o, std::cout);
  };
  return {c, run, /*checkpoints_on_interrupt=*/true};
}

}  // namespace bcqnmt

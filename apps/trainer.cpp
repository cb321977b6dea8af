#include "apps/trainer.h"

#include <cereal/archives/portable_binary.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "apps/app_error.h"
#include "apps/interrupt.h"
#include "apps/model_loading.h"
#include "apps/progress_bar.h"
#include "apps/training_batches.h"
#include "core/atomic_file.h"
#include "core/gemm_bf16.h"
#include "nn/metrics.h"
#include "nn/training_health.h"
#include "optim/adam.h"
#include "optim/checkpoint_keeper.h"
#include "optim/clip_grad_norm.h"
#include "optim/learning_rate_schedule.h"

namespace bcqnmt {

namespace {

// Where training stands inside the run; stored in every checkpoint's data-order blob.
struct Progress {
  int64_t epoch = 0;     // epochs completed
  int64_t position = 0;  // batches done in the current epoch
  double loss_sum = 0.0;  // running sums of the current epoch, for the progress line
  int64_t correct = 0, tokens = 0, batches_seen = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(epoch, position, loss_sum, correct, tokens, batches_seen);
  }
};

std::string to_blob(const Progress& p) {
  std::ostringstream s;
  {
    cereal::PortableBinaryOutputArchive ar(s);
    ar(p);
  }
  return s.str();
}

Progress from_blob(const std::string& blob) {
  Progress p;
  std::istringstream s(blob);
  cereal::PortableBinaryInputArchive ar(s);
  ar(p);
  return p;
}

Checkpoint snapshot(const Transformer& model, const Adam& adam, int64_t step, const Progress& progress,
                    const CheckpointIdentity& id, Rng& rng) {
  Checkpoint c;
  for (const auto& [name, p] : model.named_parameters()) c.parameters.push_back({name, p.value()});
  c.optimizer = adam.state();
  c.step = step;
  c.epoch = progress.epoch;
  c.rng_state = rng.state();
  c.trainer_progress = to_blob(progress);
  c.config_json = id.config_json;
  c.source_vocab_fingerprint = id.source_vocab_fingerprint;
  c.target_vocab_fingerprint = id.target_vocab_fingerprint;
  return c;
}

MetricList running_metrics(const Progress& p) {
  return {{"loss", p.batches_seen ? p.loss_sum / static_cast<double>(p.batches_seen) : 0.0},
          {"masked_accuracy", p.tokens ? static_cast<double>(p.correct) / static_cast<double>(p.tokens) : 0.0}};
}

}  // namespace

PhaseStanding phase_standing(const Checkpoint& latest) {
  const auto since_best = latest.metrics.find(kValidationsSinceBest);
  return {latest.epoch, since_best == latest.metrics.end() ? 0 : static_cast<int>(since_best->second)};
}

Trainer::Trainer(Transformer& model, const TrainingConfig& config, const EncodedCorpus& train,
                 const EncodedCorpus& validation, CheckpointIdentity identity, RunDirectory run)
    : model_(model), config_(config), train_(train), validation_(validation), identity_(std::move(identity)), run_(std::move(run)) {}

namespace {

GemmPrecision training_precision(const TrainingConfig& config) {
  if (config.matmul_precision == MatmulPrecision::automatic)
    return bf16_gemm_unavailable_reason().empty() ? GemmPrecision::bf16 : GemmPrecision::fp32;
  const GemmPrecision precision =
      config.matmul_precision == MatmulPrecision::bf16 ? GemmPrecision::bf16 : GemmPrecision::fp32;
  if (precision == GemmPrecision::bf16) {
    const std::string reason = bf16_gemm_unavailable_reason();
    if (!reason.empty()) throw AppError("training config: \"matmul_precision\": \"bf16\": " + reason);
  }
  return precision;
}

// The fixed batch the health signals are measured on: the first 32 validation pairs.
Batch health_batch(const EncodedCorpus& validation, const TrainingConfig& config) {
  std::vector<int64_t> pairs(std::min<int64_t>(32, validation.size()));
  std::iota(pairs.begin(), pairs.end(), 0);
  return make_batch(validation, pairs, batch_limits(config));
}

// Thresholds of the collapse warnings. A healthy model of the reference size keeps 0.1-0.8
// of its encoder output varying across positions; the collapsed run of docs/training.md
// fell to 0.0001 and never came back. A healthy run can dip low in its first epoch (0.03 at
// step 200 in docs/training.md), so the share is judged from the second epoch's validation
// on; near-uniform cross-attention is normal until the decoder has learned its language
// model, so it is judged after warm-up.
constexpr double kCollapsedPositionShare = 0.01;
constexpr double kUniformAttentionEntropy = 0.95;

void warn_if_unhealthy(const ModelHealth& h, int64_t epoch, int64_t step, int64_t warmup, std::ostream& out) {
  if (epoch >= 2 && h.encoder_position_share < kCollapsedPositionShare)
    out << kWarningLine << "step " << step
        << ": the encoder output is nearly the same at every position (position-varying share "
        << h.encoder_position_share << " < " << kCollapsedPositionShare
        << "), so translations cannot follow the source; check the learning rate and warm-up, the batch size and the "
           "initialisation (docs/training.md)\n";
  if (step > warmup && h.cross_attention_entropy > kUniformAttentionEntropy)
    out << kWarningLine << "step " << step << ": cross-attention is nearly uniform over the source (normalised "
        << "entropy " << h.cross_attention_entropy << " > " << kUniformAttentionEntropy
        << ") after warm-up; the decoder is ignoring the source (docs/training.md)\n";
}

// The steps of epochs 1..`epochs`: a bucketed epoch's batch count varies with its shuffle,
// so each epoch's plan is counted (a few ms each), the same on every resume. Leaves `batcher`
// at the start of its last epoch; callers restore it to where training stands.
int64_t steps_in_epochs(Batcher& batcher, uint64_t seed, int epochs) {
  int64_t steps = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    batcher.restore({seed, epoch, 0});
    steps += batcher.batches_in_epoch();
  }
  return steps;
}

}  // namespace

double EvalResult::metric(const std::string& name) const {
  if (name == "val_masked_accuracy") return masked_accuracy;
  if (name == "val_bleu" && bleu) return *bleu;
  throw std::logic_error("EvalResult: no value for metric " + name);
}

EvalResult Trainer::validate() const {
  EvalResult r = evaluate(validation_);
  if (bleu_scorer_) {
    // Translation runs fp32 in `evaluate` and `translate`; val_bleu predicts their figure.
    const GemmPrecisionScope fp32(GemmPrecision::fp32);
    r.bleu = bleu_scorer_(model_);
  }
  return r;
}

EvalResult Trainer::evaluate(const EncodedCorpus& split) const {
  NoGradGuard no_grad;
  // The precision training validates in, whether or not a phase is running (post-training
  // quantization validates without one), so val figures compare across variants.
  const GemmPrecisionScope precision(training_precision(config_));
  const bool was_training = model_.training();
  model_.eval();
  EvalResult r;
  double loss_sum = 0.0;
  int64_t correct = 0;
  const BatchLimits limits = batch_limits(config_);
  for (int64_t begin = 0; begin < split.size(); begin += config_.batch_size) {
    std::vector<int64_t> pairs(std::min<int64_t>(config_.batch_size, split.size() - begin));
    std::iota(pairs.begin(), pairs.end(), begin);
    const std::vector<int64_t> shard = rank_shard(pairs, split, limits, group_->rank(), group_->size());
    if (shard.empty()) continue;
    const Batch batch = make_batch(split, shard, limits);
    TokenCounts counts;
    const Variable loss = model_.masked_loss(batch.source, batch.target_in, batch.target_out, &counts);
    loss_sum += loss.value().item() * static_cast<double>(counts.total);
    correct += counts.correct;
    r.tokens += counts.total;
  }
  model_.train(was_training);
  double totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(r.tokens)};
  group_->sum(totals, "the validation loss and token counts");
  r.tokens = static_cast<int64_t>(totals[2]);
  if (r.tokens) {
    r.loss = totals[0] / totals[2];
    r.masked_accuracy = totals[1] / totals[2];
  }
  return r;
}

// One run of a phase: the optimizer, the checkpoints and where training stands, with the
// three things a run does -- resume, step, validate-and-checkpoint -- as methods.
class Trainer::PhaseRun {
 public:
  PhaseRun(Trainer& trainer, const TrainerPhase& phase, std::ostream& out)
      : t_(trainer),
        phase_(phase),
        out_(out),
        adam_(trainer.model_.parameters()),
        keeper_(phase.checkpoint_dir, trainer.config_.best_metric, MetricGoal::maximize),
        files_(phase.checkpoint_dir),
        probe_(health_batch(trainer.validation_, trainer.config_)),
        interactive_(stdout_is_terminal()),
        group_(*trainer.group_),
        limits_(batch_limits(trainer.config_)) {
    keeper_.stage_writes(".next");  // published with the derived model by commit()
  }

  // Continues from checkpoint_dir/latest.ckpt when it exists: weights, optimizer, generator,
  // data position and the best value so far.
  void resume() {
    if (group_.is_root())
      if (const std::string repaired = files_.repair(); !repaired.empty()) out_ << repaired << "\n";
    group_.barrier("the repair of an interrupted commit");  // before any rank reads the checkpoints
    // The epoch checkpoints of the committed set, which this training's commits carry on.
    if (!phase_.restart)
      for (const auto& path : keeper_.epoch_checkpoints()) epoch_files_.push_back(path.filename().string());
    const bool has_latest = std::filesystem::exists(keeper_.latest_path());
    const bool has_best = std::filesystem::exists(keeper_.best_path());
    if (phase_.restart || !has_latest) {
      if (has_best && !phase_.restart)
        throw AppError(keeper_.best_path().string() + " exists but " + keeper_.latest_path().string() +
                       " does not, so this phase cannot resume; starting over could replace that model with a worse "
                       "one: pass --restart to start it from scratch (best.ckpt stays unless beaten)");
      if (has_best) {
        keeper_.resume_from(load_checkpoint(keeper_.best_path()));
        out_ << phase_.name << ": starting from scratch (--restart); " << keeper_.best_path().string()
             << " stays unless beaten\n";
      }
      // Epoch checkpoints of the earlier attempt would be averaged (`bcqnmt average`) with this
      // one's, which may even train other settings (apps/experiment.h, check_run_config); the
      // first commit of this training drops them (none is in its set) and publishes the new
      // config.json, so a kill before it leaves the old set whole.
      if (phase_.restart && group_.is_root() && !phase_.restart_config.empty())
        write_file_atomically(files_.staged_run_config(), phase_.restart_config);
      // A fresh start drops step records an earlier attempt logged before its first save;
      // after --restart the earlier attempt's records stay, as best.ckpt may come from it.
      if (!phase_.restart && group_.is_root()) t_.run_.drop_metrics_after(phase_.name, phase_.variant, 0);
      return;
    }
    const Checkpoint c = load_checkpoint(keeper_.latest_path());
    check_checkpoint_compatible(c, keeper_.latest_path(), t_.identity_.config_json,
                                t_.identity_.source_vocab_fingerprint, t_.identity_.target_vocab_fingerprint);
    load_model_parameters(t_.model_, c, keeper_.latest_path());
    adam_.load_state(c.optimizer);
    t_.model_.rng().set_state(c.rng_state);
    progress_ = from_blob(c.trainer_progress);
    step_ = c.step;
    saved_step_ = c.step;
    if (c.metrics.count(kValidationsSinceBest)) validations_since_best_ = static_cast<int>(c.metrics.at(kValidationsSinceBest));
    keeper_.resume_from(c);
    if (group_.is_root()) t_.run_.drop_metrics_after(phase_.name, phase_.variant, step_);
    out_ << phase_.name << ": resuming from " << keeper_.latest_path().string() << " (epoch " << progress_.epoch + 1
         << ", step " << step_ << ")\n";
  }

  // Data-parallel ranks start from the same weights (from the same seed or checkpoint) and
  // draw different dropout masks: rank r > 0 mixes r into rank 0's generator state. Rank 0
  // keeps the single-process stream, and its state is the one checkpoints store.
  void join_replicas() {
    group_.check_replicas_agree(adam_.parameters(),
                                "at the start of training (does every rank read the same run directory?)");
    if (!group_.is_root()) t_.model_.rng().set_state(splitmix64(t_.model_.rng().state() ^ static_cast<uint64_t>(group_.rank())));
  }

  void train_epochs() {
    if (progress_.epoch >= phase_.epochs && !patience_exhausted())
      out_ << phase_.name << ": epoch " << progress_.epoch << " of " << phase_.epochs
           << " is done; nothing to train (--epochs N asks for more)\n";
    const std::unique_ptr<Batcher> batcher = make_batcher(t_.config_, t_.train_);
    if (phase_.linear_decay) {
      phase_steps_ = steps_in_epochs(*batcher, t_.config_.seed, phase_.epochs);  // restored in the loop below
      if (phase_.linear_decay->warmup_steps >= phase_steps_)
        out_ << phase_.name << ": warning: the learning rate's warm-up (" << phase_.linear_decay->warmup_steps
             << " steps) is as long as the phase (" << phase_steps_
             << " steps), so the rate only rises and never decays; lower \"lr_warmup_steps\" or train more epochs\n";
    }
    t_.model_.train();
    last_log_time_ = std::chrono::steady_clock::now();  // tokens/s excludes start-up
    while (!standing().finished(phase_.epochs, t_.config_.patience)) {
      batcher->restore({t_.config_.seed, progress_.epoch, progress_.position});
      out_ << "Epoch " << progress_.epoch + 1 << "/" << phase_.epochs << "\n";
      ProgressBar bar(batcher->batches_in_epoch(), progress_.position, out_, interactive_);
      std::vector<int64_t> pairs;
      for (; batcher->next_pairs(pairs); ++progress_.position) {
        step(make_batch(t_.train_, rank_shard(pairs, t_.train_, limits_, group_.rank(), group_.size()), limits_), bar);
        if (phase_.validate_every > 0 && step_ % phase_.validate_every == 0 &&
            progress_.position + 1 < batcher->batches_in_epoch()) {
          Progress after = progress_;
          ++after.position;
          validate_and_save(bar, after, false);
          if (patience_exhausted()) break;
        }
        if (group_.any(interrupt_requested(), "the interrupt flag")) save_and_stop();
      }
      if (patience_exhausted()) break;  // stopped by a mid-epoch validation; its checkpoint resumes here
      Progress next;
      next.epoch = progress_.epoch + 1;
      validate_and_save(bar, next, true);
      progress_ = next;
      // A signal during the validation: its checkpoint is the one just written.
      if (group_.any(interrupt_requested(), "the interrupt flag")) stop_interrupted("");
    }
    if (patience_exhausted())
      out_ << phase_.name << ": early stopping: " << t_.config_.best_metric << " has not improved on "
           << (keeper_.best_value() ? std::to_string(*keeper_.best_value()) : std::string("-")) << " in "
           << validations_since_best_ << (validations_since_best_ == 1 ? " validation" : " validations")
           << " (\"patience\": " << t_.config_.patience << "); best model "
           << keeper_.best_path().string() << "\n";
  }

 private:
  PhaseStanding standing() const { return {progress_.epoch, validations_since_best_}; }

  // The phase's learning rate at `step` (TrainerPhase::linear_decay).
  double learning_rate_at(int64_t step) const {
    if (phase_.linear_decay) return linear_decay_learning_rate(step, *phase_.linear_decay, phase_steps_);
    return noam_learning_rate(step, t_.model_.config().d_model, t_.config_.warmup_steps);
  }
  bool patience_exhausted() const { return standing().patience_exhausted(t_.config_.patience); }

  // Forward and backward of this rank's shard, the gradients summed over the ranks, the
  // non-finite guard, the step log every log_every steps, clipping, Adam.
  void step(const Batch& shard, ProgressBar& bar) {
    adam_.zero_grad();
    TokenCounts counts;
    const int64_t batch_tokens = group_.sum(shard.num_target_tokens, "the batch's target-token count");
    double loss_sum = 0.0;  // this shard's: its mean loss times its target tokens
    if (shard.size() > 0) {
      Variable loss = phase_.loss ? phase_.loss(t_.model_, shard, &counts)
                                  : t_.model_.masked_loss(shard.source, shard.target_in, shard.target_out, &counts);
      // The shard's mean weighted by its share of the batch's target tokens, so the ranks'
      // gradients sum to the gradient of the whole batch's mean (1 with one rank).
      (loss * static_cast<float>(static_cast<double>(shard.num_target_tokens) / static_cast<double>(batch_tokens)))
          .backward();
      loss_sum = loss.value().item() * static_cast<double>(shard.num_target_tokens);
    }
    group_.reduce_gradients(adam_.parameters());
    double sums[2] = {loss_sum, static_cast<double>(counts.correct)};
    group_.sum(sums, "the step's loss and correct tokens");
    counts = {static_cast<int64_t>(sums[1]), batch_tokens};
    const double loss_value = sums[0] / static_cast<double>(batch_tokens);
    const double norm = gradient_norm(adam_.parameters());
    if (!std::isfinite(loss_value) || !std::isfinite(norm)) stop_on_non_finite(loss_value, norm);
    ++step_;
    log_tokens_ += counts.total;
    const double learning_rate = learning_rate_at(step_);
    if (group_.is_root() && t_.config_.log_every > 0 && step_ % t_.config_.log_every == 0)
      log_step(loss_value, learning_rate, bar);
    if (t_.config_.clip_norm > 0.0) clip_grad_norm(adam_.parameters(), norm, t_.config_.clip_norm);
    adam_.step(learning_rate);
    progress_.loss_sum += loss_value;
    progress_.correct += counts.correct;
    progress_.tokens += counts.total;
    ++progress_.batches_seen;
    bar.update(progress_.position + 1, running_metrics(progress_));
  }

  // A NaN or Inf loss or gradient would poison the weights and, through Adam's moments,
  // every later step. Nothing of this step is applied or saved: the last checkpoint stays
  // the run's state, and the error says what to change before resuming from it.
  [[noreturn]] void stop_on_non_finite(double loss, double norm) const {
    std::string groups;
    for (const auto& [group, group_norm] : gradient_norms_by_group(t_.model_))
      if (!std::isfinite(group_norm)) groups += (groups.empty() ? "" : ", ") + group;
    auto str = [](double v) { return std::isnan(v) ? "NaN" : std::isinf(v) ? (v > 0 ? "+Inf" : "-Inf") : std::to_string(v); };
    throw AppError(phase_.name + " step " + std::to_string(step_ + 1) + ": the loss is " + str(loss) +
                   " and the gradient norm " + str(norm) +
                   (groups.empty() ? std::string() : " (non-finite in " + groups + ")") +
                   "; training stopped without applying or saving this step, so " + keeper_.latest_path().string() +
                   (saved_step_ > 0 ? " (step " + std::to_string(saved_step_) + ")" : std::string(" (none yet)")) +
                   " is the last good state. A run keeps its config, so either resume it with "
                   "--matmul-precision fp32 (if it ran bf16), or start a new run directory with a longer "
                   "\"warmup_steps\" or a \"clip_norm\"");
  }

  // A "log" record: the step's loss and learning rate, the gradient norms per group before
  // clipping (what the loss asked for, not what was applied), the target tokens per second
  // since the previous record, and the health signals.
  void log_step(double loss, double learning_rate, const ProgressBar& bar) {
    const auto now = std::chrono::steady_clock::now();
    const double interval = std::chrono::duration<double>(now - last_log_time_).count();
    nlohmann::json record{{"phase", phase_.name}, {"kind", "log"},   {"epoch", progress_.epoch + 1},
                          {"step", step_},        {"learning_rate", learning_rate}, {"step_loss", loss},
                          {"seconds", bar.elapsed_seconds()},
                          {"target_tokens_per_second", interval > 0 ? static_cast<double>(log_tokens_) / interval : 0.0}};
    last_log_time_ = now;
    log_tokens_ = 0;
    for (const auto& [group, norm] : gradient_norms_by_group(t_.model_)) record["grad_norm"][group] = norm;
    const ModelHealth health = measure_health(t_.model_, probe_.source, probe_.target_in);
    record["encoder_position_share"] = health.encoder_position_share;
    record["cross_attention_entropy"] = health.cross_attention_entropy;
    append(record);
  }

  void append(nlohmann::json& record) const {
    if (!phase_.variant.empty()) record["variant"] = phase_.variant;
    if (group_.is_root()) t_.run_.append_metrics(record);
  }

  // Projection hook, validation, health, metrics line and record, latest/best checkpoints.
  // `at` is where a resume from this checkpoint continues.
  void validate_and_save(ProgressBar& bar, const Progress& at, bool epoch_end) {
    if (phase_.before_validation) phase_.before_validation(t_.model_);
    const EvalResult val = t_.validate();
    const ModelHealth health = measure_health(t_.model_, probe_.source, probe_.target_in);
    MetricList line = running_metrics(progress_);
    line.emplace_back("val_loss", val.loss);
    line.emplace_back("val_masked_accuracy", val.masked_accuracy);
    if (val.bleu) line.emplace_back("val_bleu", *val.bleu);
    line.emplace_back("encoder_position_share", health.encoder_position_share);
    line.emplace_back("cross_attention_entropy", health.cross_attention_entropy);
    if (epoch_end) {
      bar.finish(line);
    } else {
      out_ << (interactive_ ? "\n" : "") << "step " << step_ << " (mid-epoch validation)";
      for (const auto& [name, value] : line) out_ << " - " << name << ": " << value;
      out_ << "\n";
    }
    nlohmann::json record{{"phase", phase_.name}, {"kind", "validation"}, {"epoch", progress_.epoch + 1},
                          {"step", step_}, {"seconds", bar.elapsed_seconds()},
                          {"learning_rate", learning_rate_at(std::max<int64_t>(step_, 1))}};
    for (const auto& [name, value] : line) record[name] = value;
    append(record);
    warn_if_unhealthy(health, progress_.epoch + 1, step_, t_.config_.warmup_steps, out_);
    Checkpoint c = snapshot(t_.model_, adam_, step_, at, t_.identity_, t_.model_.rng());
    c.metrics["val_loss"] = val.loss;
    c.metrics["val_masked_accuracy"] = val.masked_accuracy;
    if (val.bleu) c.metrics["val_bleu"] = *val.bleu;
    const double value = val.metric(t_.config_.best_metric);
    group_.check_replicas_agree(adam_.parameters(), ("at step " + std::to_string(step_)).c_str());
    // Rank 0's keeper alone sees every save, so it keeps the count for early stopping.
    validations_since_best_ = static_cast<int>(
        group_.broadcast(keeper_.improves(value) ? 0 : validations_since_best_ + 1, "the validations since the best"));
    c.metrics[kValidationsSinceBest] = validations_since_best_;
    const std::optional<double> previous = keeper_.best_value();
    saved_step_ = step_;
    const bool improved = group_.is_root() && keeper_.save(c);
    if (improved) {
      out_ << phase_.name << " step " << step_ << ": " << t_.config_.best_metric << " improved from ";
      if (previous) out_ << *previous;  // stream formatting: 5.2e-232 stays visible, as in the progress line
      else out_ << "-inf";
      out_ << " to " << value
           << ", saving model to " << keeper_.best_path().string() << "\n";
      if (phase_.on_improved) phase_.on_improved(t_.model_);
    }
    // The epoch's checkpoint is staged with the others, so no kill leaves a latest.ckpt of
    // an epoch that has no epoch_NNN.ckpt (`average --last N` would skip it).
    if (epoch_end && group_.is_root() && t_.config_.keep_epoch_checkpoints > 0)
      epoch_files_ = keeper_.keep_epoch(at.epoch, t_.config_.keep_epoch_checkpoints, epoch_files_);
    commit();
  }

  // Publishes the staged checkpoints (and derived model) with one manifest write; rank 0's,
  // as it alone writes.
  void commit() const {
    if (!group_.is_root()) return;
    nlohmann::json record = phase_.manifest;
    record["step"] = step_;
    record["epoch_checkpoints"] = epoch_files_;
    files_.commit(record);
  }

  [[noreturn]] void save_and_stop() {
    ++progress_.position;
    Checkpoint c = snapshot(t_.model_, adam_, step_, progress_, t_.identity_, t_.model_.rng());
    c.metrics[kValidationsSinceBest] = validations_since_best_;
    if (group_.is_root()) {
      keeper_.save(c);
      commit();
    }
    group_.barrier("the interrupt checkpoint");  // no rank exits (and ends the job) before it is written
    stop_interrupted("\n");
  }

  // After latest.ckpt holds where to resume: say so and stop (main exits 130/143).
  [[noreturn]] void stop_interrupted(const char* line_break) const {
    out_ << line_break << phase_.name << ": interrupted; saved " << keeper_.latest_path().string()
         << " (the next run resumes from here)\n";
    throw TrainingInterrupted{};
  }

  Trainer& t_;
  const TrainerPhase& phase_;
  std::ostream& out_;
  Adam adam_;
  CheckpointKeeper keeper_;
  PhaseFiles files_;
  const Batch probe_;  // the fixed batch of the health signals
  const bool interactive_;
  DataParallel& group_;
  const BatchLimits limits_;
  Progress progress_;
  int64_t step_ = 0;
  int64_t phase_steps_ = 0;  // the phase's length in steps, where the linear decay ends
  std::vector<std::string> epoch_files_;  // the epoch checkpoints the next commit keeps
  int64_t saved_step_ = 0;          // the step of the last checkpoint written or resumed from
  int validations_since_best_ = 0;  // early stopping's count (TrainingConfig::patience)
  int64_t log_tokens_ = 0;          // target tokens since the last "log" record
  std::chrono::steady_clock::time_point last_log_time_ = std::chrono::steady_clock::now();
};

void Trainer::run(const TrainerPhase& phase, std::ostream& out) {
  // Training and its validation passes; translation and evaluation stay fp32.
  const GemmPrecisionScope precision(training_precision(config_));
  out << phase.name << ": " << gemm_precision_names().name(gemm_precision()) << " matmuls (\"matmul_precision\": \""
      << matmul_precision_names().name(config_.matmul_precision) << "\")\n";
  PhaseRun run(*this, phase, out);
  run.resume();
  run.join_replicas();
  run.train_epochs();
  group_->barrier("the end of training");  // rank 0's last checkpoint is written before any rank exits
}

}  // namespace bcqnmt

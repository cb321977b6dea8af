#include "apps/training_config.h"

#include <nlohmann/json.hpp>

#include "apps/app_error.h"
#include "nn/json_fields.h"

namespace bcqnmt {

const NameTable<BatcherKind>& batcher_names() {
  static const NameTable<BatcherKind> names("\"batcher\"",
                                            {{BatcherKind::reference, "reference"}, {BatcherKind::bucketed, "bucketed"}});
  return names;
}

const NameTable<MatmulPrecision>& matmul_precision_names() {
  static const NameTable<MatmulPrecision> names(
      "\"matmul_precision\"",
      {{MatmulPrecision::fp32, "fp32"}, {MatmulPrecision::bf16, "bf16"}, {MatmulPrecision::automatic, "auto"}});
  return names;
}

TrainingConfig TrainingConfig::from_json(const nlohmann::json& j) {
  TrainingConfig c;
  const JsonFields<AppError> fields(j, c.to_json(), "training config");
  auto get = [&](const char* key, auto& out) { fields.get(key, out); };
  // Each count with its own minimum, so a value out of range names the key's range.
  fields.get("epochs", c.epochs, 1);
  fields.get("batch_size", c.batch_size, 1);
  fields.get("max_tokens", c.max_tokens, 2);
  fields.get("shuffle_buffer", c.shuffle_buffer, 1);
  fields.get("warmup_steps", c.warmup_steps, 1);
  get("seed", c.seed);
  fields.get("batcher", c.batcher, batcher_names());
  fields.get("token_budget", c.token_budget, decltype(c.token_budget){1});
  get("clip_norm", c.clip_norm);
  fields.get("train_limit", c.train_limit, decltype(c.train_limit){0});
  fields.get("validation_limit", c.validation_limit, decltype(c.validation_limit){0});
  fields.get("matmul_precision", c.matmul_precision, matmul_precision_names());
  get("log_every", c.log_every);
  get("keep_epoch_checkpoints", c.keep_epoch_checkpoints);
  get("patience", c.patience);
  get("validation_bleu_pairs", c.validation_bleu_pairs);
  get("best_metric", c.best_metric);
  if (c.log_every < 0) throw AppError("training config: \"log_every\" must be >= 0 (0 turns step logs off)");
  if (c.validation_bleu_pairs < 0)
    throw AppError("training config: \"validation_bleu_pairs\" must be >= 0 (0 turns validation BLEU off)");
  if (c.best_metric != "val_masked_accuracy" && c.best_metric != "val_bleu")
    throw AppError("training config: \"best_metric\" must be \"val_masked_accuracy\" or \"val_bleu\", got \"" +
                   c.best_metric + "\"");
  if (c.best_metric == "val_bleu" && c.validation_bleu_pairs == 0)
    throw AppError("training config: \"best_metric\": \"val_bleu\" needs \"validation_bleu_pairs\" > 0 (e.g. 200)");
  if (c.patience < 0) throw AppError("training config: \"patience\" must be >= 0 (0 turns early stopping off)");
  if (c.keep_epoch_checkpoints < 0)
    throw AppError("training config: \"keep_epoch_checkpoints\" must be >= 0 (0 keeps none)");
  // Upper bounds far above any use, below int overflow in the sizes derived from them
  // (max_tokens + 1 target positions, batch_size * max_tokens tokens).
  if (c.max_tokens > (1 << 20) || c.batch_size > (1 << 20) || c.shuffle_buffer > (1 << 28))
    throw AppError("training config: max_tokens and batch_size must be <= 1048576, shuffle_buffer <= 268435456");
  return c;
}

const std::vector<std::string>& resumable_training_keys() {
  static const std::vector<std::string> keys{"epochs", "patience", "log_every", "keep_epoch_checkpoints",
                                             "matmul_precision"};
  return keys;
}

nlohmann::json TrainingConfig::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"max_tokens", max_tokens},
          {"shuffle_buffer", shuffle_buffer},
          {"warmup_steps", warmup_steps},
          {"seed", seed},
          {"batcher", batcher_names().name(batcher)},
          {"token_budget", token_budget},
          {"clip_norm", clip_norm},
          {"train_limit", train_limit},
          {"validation_limit", validation_limit},
          {"matmul_precision", matmul_precision_names().name(matmul_precision)},
          {"log_every", log_every},
          {"keep_epoch_checkpoints", keep_epoch_checkpoints},
          {"patience", patience},
          {"validation_bleu_pairs", validation_bleu_pairs},
          {"best_metric", best_metric}};
}

}  // namespace bcqnmt

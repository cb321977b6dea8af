#pragma once
// The "training" object of a config file: how pretraining (and the training half of
// quantization-aware training) runs. Defaults are the reference protocol (docs/reference.md §2).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/name_table.h"

namespace bcqnmt {

// "reference": random pairs from a shuffle buffer, padded (the reference's tf.data
// pipeline); "bucketed": pairs of similar length by a token budget (data/batcher.h).
enum class BatcherKind { reference, bucketed };
const NameTable<BatcherKind>& batcher_names();

// "bf16": GEMM operands rounded to bf16 (core/gemm_bf16.h), an error where the CPU has no
// native bf16; "auto": bf16 where it has (AVX512-BF16 or AMX), else fp32.
enum class MatmulPrecision { fp32, bf16, automatic };
const NameTable<MatmulPrecision>& matmul_precision_names();  // "fp32", "bf16", "auto"

struct TrainingConfig {
  int epochs = 30;
  int batch_size = 64;          // sentence pairs per batch (reference batcher)
  int max_tokens = 128;         // source cut; the target keeps max_tokens + 1 with [START]/[END]
  int shuffle_buffer = 20000;
  int warmup_steps = 4000;
  uint64_t seed = 1;
  BatcherKind batcher = BatcherKind::reference;
  int token_budget = 6000;            // bucketed: padded target+source slots per batch
  double clip_norm = 0.0;             // 0: off
  int64_t train_limit = 0;            // use only the first N training pairs (0: all)
  int64_t validation_limit = 0;       // and the first N validation pairs (0: all)
  MatmulPrecision matmul_precision = MatmulPrecision::fp32;
  // Every N steps: a metrics.jsonl record of the step's loss, learning rate, gradient norm
  // per parameter group and the health signals (nn/training_health.h). 0: off.
  int log_every = 50;
  // Keep the last N epoch-end checkpoints (epoch_NNN.ckpt) for checkpoint averaging
  // (`bcqnmt average`). 0: only latest.ckpt and best.ckpt.
  int keep_epoch_checkpoints = 0;
  // Early stopping: end the phase once this many validations in a row have not beaten the
  // best value of best_metric (Marian's --early-stopping, fairseq's --patience). 0: off.
  int patience = 0;
  // Every validation also translates the first N validation pairs greedily and records
  // their nltk corpus BLEU as "val_bleu" (the test protocol's metric on a fixed subset). 0: off.
  int validation_bleu_pairs = 0;
  // The validation metric that picks best.ckpt and drives patience: "val_masked_accuracy"
  // (the reference's) or "val_bleu" (needs validation_bleu_pairs > 0).
  std::string best_metric = "val_masked_accuracy";

  static TrainingConfig from_json(const nlohmann::json& j);  // unknown keys are errors
  nlohmann::json to_json() const;
};

// The training keys a resume may change: they say how long and how verbosely training goes
// on, not what the weights trained so far mean, so a resumed run is still the run it was
// (Marian and fairseq resume with more epochs or another patience). "matmul_precision" is
// here because resuming in fp32 is the way out of a bf16 divergence (docs/training.md).
// Every other training key, and the whole model section, is the run's identity: pretraining
// refuses to resume under another value (apps/experiment.h, check_run_config).
const std::vector<std::string>& resumable_training_keys();

}  // namespace bcqnmt

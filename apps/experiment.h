#pragma once
// Everything a command needs to know about a run: its config file (model, training and
// quantization sections), its vocabularies and its identity for checkpoints.
#include <nlohmann/json.hpp>
#include <string>

#include "apps/quantization_config.h"
#include "apps/run_directory.h"
#include "apps/training_config.h"
#include "data/corpus.h"
#include "data/encoded_corpus.h"
#include "data/vocabulary.h"
#include "nn/model_config.h"
#include "optim/checkpoint.h"

namespace bcqnmt {

// Reads a config file: {"model": {...}, "training": {...}, "quantization": {...}}; every
// section optional, unknown top-level keys and malformed JSON are errors naming the file.
nlohmann::json read_config_file(const std::string& path);

// Throws AppError if the run was started with another config and holds a pretraining
// checkpoint; before its first checkpoint a run takes the new config.
void check_run_config(const RunDirectory& run, const nlohmann::json& config);

struct Experiment {
  RunDirectory run;
  nlohmann::json config;  // the whole config file as stored in the run
  ModelConfig model;      // vocabulary sizes filled in from the vocabularies
  TrainingConfig training;
  QuantizationConfig quantization;
  Vocabulary source_vocab, target_vocab;

  CheckpointIdentity identity() const;
  // The model section as stored in checkpoints and .bcq files.
  std::string model_json() const;
};

// Opens run_dir. With config_path, the config is adopted by a new run (copied to
// config.json, also over one left by a start that never saved a checkpoint) or must equal
// the one the run started with; without it, the run's own
// config.json is used. The vocabularies must exist (`bcqnmt vocab`).
Experiment open_experiment(const std::string& run_dir, const std::string& config_path);

// One split of the corpus encoded with the run's vocabularies; limit > 0 keeps the first N pairs.
EncodedCorpus load_encoded_split(const Experiment& e, const std::string& data_dir, Split split, int64_t limit);

}  // namespace bcqnmt

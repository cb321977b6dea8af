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

// Whether pretraining may continue in `run` under `config` (a config file's JSON, read from
// `config_source`). Once pretraining has saved a checkpoint the run is bound to the config
// its manifest recorded (pretrain/manifest.json; config.json for a run made before
// manifests); before that a run takes any config. A bound run:
// - resumes when only resumable_training_keys() differ (more epochs, another patience);
// - with `restart` (`pretrain --restart`: start afresh, best.ckpt stays unless beaten) also
//   takes other training settings;
// - never takes another model section: best.ckpt holds a model of the first shape.
// Throws AppError naming the differing keys and the way forward; call it before the config
// is adopted (open_experiment).
void check_run_config(const RunDirectory& run, const nlohmann::json& config, const std::string& config_source,
                      bool restart);

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

// When a config given to `pretrain` becomes the run's config.json: now, or with the first
// commit of the training it starts (`--restart` of a run with checkpoints: until then the
// old config.json stays the truth about the old checkpoints; the trainer stages it).
enum class ConfigAdoption { now, at_commit };

// Opens run_dir, first finishing or undoing any phase end a kill interrupted (repair_run,
// apps/run_manifest.h; its lines go to stderr). With config_path, the config is adopted
// (copied to config.json per `adoption`; the caller, `pretrain`, has checked it with
// check_run_config); without it, the run's own config.json is used. The vocabularies must
// exist (`bcqnmt vocab`). A config is adopted only after check_model_fits_memory passed, so a
// refused model leaves the run directory untouched.
Experiment open_experiment(const std::string& run_dir, const std::string& config_path,
                           ConfigAdoption adoption = ConfigAdoption::now);

// Throws AppError naming `source` when training `model` (vocabulary sizes filled in) needs
// more memory than the machine, or `ulimit -v`, leaves this process: the one memory check,
// made before anything is written into a run directory.
void check_model_fits_memory(const ModelConfig& model, const std::string& source);

// One split of the corpus encoded with the run's vocabularies; limit > 0 keeps the first N pairs.
EncodedCorpus load_encoded_split(const Experiment& e, const std::string& data_dir, Split split, int64_t limit);

}  // namespace bcqnmt

#include "apps/experiment.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "apps/app_error.h"
#include "apps/corpus_split.h"
#include "apps/json_difference.h"
#include "apps/run_manifest.h"
#include "apps/training_batches.h"
#include "core/atomic_file.h"
#include "nn/json_file.h"

namespace bcqnmt {

nlohmann::json read_config_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw AppError("cannot read config file " + path);
  const nlohmann::json j = read_json_file<AppError>(path);
  if (!j.is_object()) throw AppError(path + ": expected a JSON object with \"model\", \"training\", \"quantization\"");
  for (const auto& [key, value] : j.items())
    if (key != "model" && key != "training" && key != "quantization")
      throw AppError(path + ": unknown key \"" + key + "\" (expected \"model\", \"training\", \"quantization\")");
  return j;
}

namespace {

// What a resume of pretraining must keep, resolved (every default filled in): the model
// section without the vocabulary sizes (the vocabularies give them), and the training section
// without resumable_training_keys(). The quantization section is not pretraining's: each
// variant is bound to its own settings.json (apps/quantized_variant.h). `source` names the
// file in errors.
nlohmann::json pretraining_identity(const nlohmann::json& config, const std::string& source) {
  try {
    ModelConfig model = ModelConfig::from_json(config.value("model", nlohmann::json::object()));
    model.src_vocab_size = model.tgt_vocab_size = 0;
    nlohmann::json training = TrainingConfig::from_json(config.value("training", nlohmann::json::object())).to_json();
    for (const std::string& key : resumable_training_keys()) training.erase(key);
    return {{"model", model.to_json()}, {"training", training}};
  } catch (const std::exception& err) {
    throw AppError(source + ": " + json_error_text(err));
  }
}

}  // namespace

void check_run_config(const RunDirectory& run, const nlohmann::json& config, const std::string& config_source,
                      bool restart) {
  // Bound once pretraining has saved a checkpoint; before that, a config.json left by a start
  // that failed (a wrong --data, a stop before the first save) is simply replaced.
  if (!std::filesystem::exists(run.pretrain_dir() / "latest.ckpt") &&
      !std::filesystem::exists(run.pretrain_dir() / "best.ckpt"))
    return;
  // The config of the last commit is the truth about the checkpoints (config.json is published
  // by the same commit, but a run made before that may hold the config of a --restart killed
  // before its first save); config.json for a run made before manifests.
  const PhaseFiles files(run.pretrain_dir());
  const std::optional<nlohmann::json> manifest = files.manifest();
  const bool recorded = manifest && manifest->contains("config");
  if (!recorded && !std::filesystem::exists(run.config())) return;
  const std::string bound_source = recorded ? files.manifest_path().string() : run.config().string();
  const nlohmann::json before = pretraining_identity(recorded ? manifest->at("config") : read_config_file(bound_source), bound_source);
  const nlohmann::json after = pretraining_identity(config, config_source);
  if (before == after) return;
  const std::string what = "run " + run.root.string() + " was started with another config (" + bound_source + ")";
  if (before["model"] != after["model"])
    throw AppError(what + ": " + describe_json_differences({{"model", before["model"]}}, {{"model", after["model"]}}) +
                   "; its best.ckpt holds a model of the first shape, so a model of another shape is another run: "
                   "use a new --run directory");
  if (restart) return;
  throw AppError(what + ": " + describe_json_differences(before, after) +
                 "; to train with this config in this run, start pretraining afresh with `bcqnmt pretrain --restart` "
                 "(best.ckpt stays unless beaten; variants of a replaced best.ckpt are flagged stale), or use a new "
                 "--run directory, or resume with the config it recorded");
}

CheckpointIdentity Experiment::identity() const {
  return {model_json(), source_vocab.fingerprint(), target_vocab.fingerprint()};
}

std::string Experiment::model_json() const { return model.to_json().dump(); }

namespace {

// Bytes this process may still allocate: the smaller of the kernel's MemAvailable and what
// `ulimit -v` leaves of the address space; -1 if neither is known.
int64_t available_memory_bytes() {
  int64_t available = -1;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    int64_t kb = 0;
    meminfo >> kb;
    if (key == "MemAvailable:") available = kb * 1024;
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    int64_t used = 0;  // VmSize of this process, already counted against the limit
    std::ifstream status("/proc/self/status");
    for (std::string key; status >> key;) {
      if (key == "VmSize:") status >> used;
      status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    const int64_t left = static_cast<int64_t>(limit.rlim_cur) - used * 1024;
    available = available < 0 ? left : std::min(available, left);
  }
  return available;
}

}  // namespace

void check_model_fits_memory(const ModelConfig& model, const std::string& source) {
  // Training holds four floats per weight (the weight, its gradient, Adam's two moments);
  // activations come on top, so this is a lower bound.
  const int64_t needed = 16 * model.matrix_weights();
  const int64_t available = available_memory_bytes();
  if (available >= 0 && needed > available)
    throw AppError(source + ": the model's " + std::to_string(model.matrix_weights()) + " weights need at least " +
                   std::to_string(needed >> 20) + " MiB to train (weights, gradients, Adam moments), but " +
                   std::to_string(available >> 20) + " MiB are available; reduce d_model, dff, num_heads, key_dim "
                   "or num_layers");
}

Experiment open_experiment(const std::string& run_dir, const std::string& config_path, ConfigAdoption adoption) {
  Experiment e;
  e.run.root = run_dir;
  if (const std::string repaired = repair_run(e.run); !repaired.empty()) std::cerr << repaired << "\n";
  const bool has_run_config = std::filesystem::exists(e.run.config());
  if (config_path.empty() && !has_run_config)
    throw AppError("run directory " + run_dir +
                   " has no config.json: start the run with `bcqnmt pretrain --config FILE --run " + run_dir +
                   "` (or `pipeline`), e.g. configs/small_bucketed.json");
  const std::string source = config_path.empty() ? e.run.config().string() : config_path;
  e.config = read_config_file(source);
  try {
    e.model = ModelConfig::from_json(e.config.value("model", nlohmann::json::object()));
    e.training = TrainingConfig::from_json(e.config.value("training", nlohmann::json::object()));
    e.quantization = QuantizationConfig::from_json(e.config.value("quantization", nlohmann::json::object()));
    check_batcher_options(e.training);
  } catch (const std::exception& err) {
    throw AppError(source + ": " + json_error_text(err));
  }
  // The vocabularies give the embeddings' sizes: read before config.json is written, so a
  // model this machine cannot hold is refused before the run is bound to its config.
  e.run.require(e.run.source_vocab(), "vocab");
  e.run.require(e.run.target_vocab(), "vocab");
  e.source_vocab = Vocabulary::load(e.run.source_vocab().string());
  e.target_vocab = Vocabulary::load(e.run.target_vocab().string());
  e.model.src_vocab_size = static_cast<int>(e.source_vocab.size());
  e.model.tgt_vocab_size = static_cast<int>(e.target_vocab.size());
  if (!config_path.empty()) check_model_fits_memory(e.model, source);
  if (!config_path.empty() && adoption == ConfigAdoption::now) {
    if (!has_run_config || read_config_file(e.run.config().string()) != e.config) {
      std::filesystem::create_directories(e.run.root);
      write_file_atomically(e.run.config(), e.config.dump(2) + "\n");
    }
  }
  return e;
}

EncodedCorpus load_encoded_split(const Experiment& e, const std::string& data_dir, Split split, int64_t limit) {
  ParallelText text = load_split_noting_drops(data_dir, split);
  if (limit > 0 && text.size() > limit) {
    text.source.resize(limit);
    text.target.resize(limit);
  }
  return encode_corpus(text, e.source_vocab, e.target_vocab);
}

}  // namespace bcqnmt

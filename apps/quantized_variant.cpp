#include "apps/quantized_variant.h"

#include <algorithm>
#include <sstream>

#include "apps/app_error.h"
#include "apps/experiment.h"
#include "apps/json_difference.h"
#include "apps/run_manifest.h"
#include "apps/trainer.h"
#include "core/atomic_file.h"
#include "core/quoted_text.h"
#include "nn/json_file.h"
#include "quant/bit_allocation.h"

namespace bcqnmt {

nlohmann::json variant_settings(const QuantizationConfig& q) {
  nlohmann::json s = q.to_json();
  s.erase("epochs");
  // The reference's schedule is the absence of the schedule's keys, as in every settings.json
  // written before they existed, so those variants still resume.
  if (!q.trains_with_linear_decay())
    for (const char* key : {"lr_schedule", "learning_rate", "lr_warmup_steps"}) s.erase(key);
  s.erase("bits_config");
  s["bits"] = q.bits_config.empty() ? bit_allocation_to_json(BitAllocation::uniform(q.bits))
                                    : bit_allocation_to_json(load_bit_allocation(q.bits_config));
  return s;
}

std::string default_variant_name(const QuantizationConfig& q) {
  std::ostringstream name;
  if (q.bits_config.empty())
    name << q.bits << "bit";
  else
    name << std::filesystem::path(q.bits_config).stem().string();
  name << "-" << bcq_method_names().name(q.solver) << "-" << quantization_mode_names().name(q.mode);
  if (q.distill_weight > 0.0) name << "-kd" << q.distill_weight;
  if (q.trains_with_linear_decay()) {
    name << "-linear_decay";  // and the values that differ from the defaults, so each gets its own default name
    if (q.learning_rate != QuantizationConfig{}.learning_rate) name << "-lr" << nlohmann::json(q.learning_rate).dump();
    if (q.lr_warmup_steps != QuantizationConfig{}.lr_warmup_steps) name << "-warmup" << q.lr_warmup_steps;
  }
  return name.str();
}

void check_variant_name(const std::string& name) {
  // Not '.': no hidden or parent directory; not '-': the name is given back as `--model NAME`,
  // where it would read as a flag.
  const bool allowed = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-' &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
                       });
  if (!allowed)
    throw UsageError("variant name \"" + quoted_text(name) +
                     "\": use 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'");
  if (name == kFullPrecisionModel)
    throw UsageError("variant name \"fp\" is taken by the full-precision model; choose another --name");
}

std::string adopt_variant_settings(const RunDirectory& run, const std::string& name, const nlohmann::json& settings,
                                   bool replace) {
  check_variant_name(name);
  const auto dir = run.variant_dir(name);
  const auto file = dir / "settings.json";
  const bool holds_state = std::filesystem::exists(dir / "latest.ckpt") || std::filesystem::exists(run.bcq_model(name));
  if (holds_state && std::filesystem::exists(file)) {
    const nlohmann::json stored = read_json_file<AppError>(file);
    if (stored == settings) return "";
    const std::string differences = describe_json_differences(stored, settings);
    if (!replace)
      throw AppError("variant \"" + name + "\" in " + run.root.string() + " was made with other settings (" +
                     file.string() + ": " + differences +
                     "); choose another --name (or omit it) to keep both, or pass --restart to replace it");
    // Its checkpoints and model go before the new settings are written: a kill in between
    // leaves a directory with settings only, which the next start takes over.
    PhaseFiles(dir).discard();
    write_file_atomically(file, settings.dump(2) + "\n");
    return differences;
  }
  if (holds_state)
    throw AppError(dir.string() + " holds a model but no settings.json; choose another --name");
  std::filesystem::create_directories(dir);
  write_file_atomically(file, settings.dump(2) + "\n");
  return "";
}

std::vector<std::string> all_variants(const RunDirectory& run) {
  std::vector<std::string> names;
  const auto root = run.root / "quantized";
  if (!std::filesystem::is_directory(root)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(root))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> finished_variants(const RunDirectory& run) {
  std::vector<std::string> names;
  for (const std::string& name : all_variants(run))
    if (std::filesystem::exists(run.bcq_model(name))) names.push_back(name);
  return names;
}

std::string unfinished_training(const RunDirectory& run, const std::string& name) {
  const std::filesystem::path latest = run.variant_dir(name) / "latest.ckpt";
  if (!std::filesystem::exists(latest)) return "";  // post-training quantization: nothing to train
  const std::optional<nlohmann::json> manifest = PhaseFiles(run.variant_dir(name)).manifest();
  const nlohmann::json config =
      manifest && manifest->contains("config") ? manifest->at("config") : read_config_file(run.config().string());
  int epochs = QuantizationConfig{}.epochs, patience = TrainingConfig{}.patience;
  try {
    epochs = config.value("quantization", nlohmann::json::object()).value("epochs", epochs);
    patience = config.value("training", nlohmann::json::object()).value("patience", patience);
  } catch (const nlohmann::json::exception& error) {
    throw AppError((manifest ? PhaseFiles(run.variant_dir(name)).manifest_path() : run.config()).string() +
                   ": epochs or patience of the wrong type (" + json_error_text(error) + ")");
  }
  const PhaseStanding standing = phase_standing(load_checkpoint(latest));
  if (standing.finished(epochs, patience)) return "";
  return "at epoch " + std::to_string(standing.epochs_done) + " of " + std::to_string(epochs);
}

}  // namespace bcqnmt

#include "apps/bundle.h"

#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <fstream>
#include <sstream>

#include "apps/app_error.h"
#include "apps/quantized_variant.h"
#include "apps/version.h"
#include "core/atomic_file.h"
#include "core/sha256.h"
#include "nn/json_file.h"
#include "nn/transformer.h"
#include "optim/checkpoint.h"

namespace bcqnmt {

namespace {

constexpr int kBundleFormat = 1;

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AppError("cannot read " + path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The model's files, relative to the run (and bundle) root.
std::vector<std::filesystem::path> model_files(const RunDirectory& run, const std::string& model) {
  if (model == kFullPrecisionModel) return {(run.pretrain_dir() / "best.ckpt").lexically_relative(run.root)};
  return {run.bcq_model(model).lexically_relative(run.root),
          (run.variant_dir(model) / "settings.json").lexically_relative(run.root)};
}

// Copies the model's files from the run into `dir`; the fp checkpoint without its optimizer
// state and data order (a bundle translates, it never resumes training).
void copy_model(const Experiment& e, const std::string& model, const std::filesystem::path& dir) {
  for (const std::filesystem::path& file : model_files(e.run, model)) {
    std::filesystem::create_directories((dir / file).parent_path());
    const std::filesystem::path from = e.run.root / file;
    e.run.require(from, model == kFullPrecisionModel ? "pretrain" : "quantize");
    if (model != kFullPrecisionModel) {
      write_file_atomically(dir / file, read_bytes(from));
      continue;
    }
    Checkpoint weights = load_checkpoint(from);
    weights.optimizer = AdamState{};
    weights.trainer_progress.clear();
    save_checkpoint(dir / file, weights);
  }
}

}  // namespace

std::string default_export_model(const Experiment& e, std::ostream& notes) {
  std::vector<std::string> finished;
  for (const std::string& name : finished_variants(e.run)) {
    const std::string unfinished = unfinished_training(e.run, name);
    if (unfinished.empty()) finished.push_back(name);
    else
      notes << "export: passing over " << name << ": its training is " << unfinished << " (--model " << name
            << " exports it as it is)\n";
  }
  const std::string configured = default_variant_name(e.quantization);
  if (std::find(finished.begin(), finished.end(), configured) != finished.end()) return configured;
  if (finished.empty()) return kFullPrecisionModel;
  if (finished.size() == 1) return finished.front();
  std::string names;
  for (const std::string& name : finished) names += (names.empty() ? "" : ", ") + name;
  throw AppError("run " + e.run.root.string() + " has several quantized variants (" + names +
                 ") and none is the config's default (" + configured + "): choose one with --model");
}

nlohmann::json describe_model(const Experiment& e, const std::string& model) {
  nlohmann::json d{{"model", model}, {"bits_per_weight", 32.0}};
  if (model == kFullPrecisionModel) return d;
  const double bytes = static_cast<double>(std::filesystem::file_size(e.run.bcq_model(model)));
  d["bits_per_weight"] = 8.0 * bytes / static_cast<double>(Transformer(e.model, e.training.seed).num_parameters());
  const std::filesystem::path settings = e.run.variant_dir(model) / "settings.json";
  if (std::filesystem::exists(settings)) {
    const nlohmann::json s = read_json_file<AppError>(settings);
    if (s.is_object() && s.contains("bits")) d["bit_allocation"] = s["bits"];
  }
  return d;
}

void write_bundle(const Experiment& e, const std::string& model, const std::filesystem::path& out) {
  if (std::filesystem::exists(out))
    throw AppError("--out " + out.string() + " exists; a bundle is never overwritten: remove it or choose another");
  std::filesystem::path tmp = out;
  tmp += ".tmp." + std::to_string(getpid());
  try {
    std::filesystem::remove_all(tmp);  // left by an earlier export killed with this pid
    std::filesystem::create_directories(tmp);
    write_file_atomically(tmp / "config.json", e.config.dump(2) + "\n");
    for (const std::filesystem::path& vocab : {e.run.source_vocab(), e.run.target_vocab()})
      write_file_atomically(tmp / vocab.filename(), read_bytes(vocab));
    copy_model(e, model, tmp);
    nlohmann::json manifest = describe_model(e, model);
    manifest["format"] = kBundleFormat;
    manifest["config"] = e.config;
    manifest["version"] = version_line();
    nlohmann::json files = nlohmann::json::object();
    for (const auto& entry : std::filesystem::recursive_directory_iterator(tmp))
      if (entry.is_regular_file())
        files[std::filesystem::relative(entry.path(), tmp).generic_string()] = sha256_file_hex(entry.path());
    manifest["files"] = files;
    write_file_atomically(tmp / kBundleManifest, manifest.dump(2) + "\n");
    std::filesystem::rename(tmp, out);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(tmp, ignored);
    throw;
  }
}

nlohmann::json read_bundle_manifest(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kBundleManifest;
  if (!std::filesystem::exists(path))
    throw AppError(dir.string() + " is not a bundle (no " + kBundleManifest + "); `bcqnmt export` writes one");
  const nlohmann::json manifest = read_json_file<AppError>(path);
  bool valid = manifest.is_object() && manifest.contains("format") && manifest["format"] == kBundleFormat &&
               manifest.contains("files") && manifest["files"].is_object() && manifest.contains("model") &&
               manifest["model"].is_string();
  if (valid && manifest["model"] != kFullPrecisionModel) {
    try {
      check_variant_name(manifest["model"]);  // no path in a model's name
    } catch (const UsageError&) {
      valid = false;
    }
  }
  if (!valid) throw AppError(path.string() + ": not a bundle manifest of format " + std::to_string(kBundleFormat));
  const RunDirectory bundle{dir};
  std::vector<std::filesystem::path> needed = model_files(bundle, manifest["model"].get<std::string>());
  for (const std::filesystem::path& p : {bundle.config(), bundle.source_vocab(), bundle.target_vocab()})
    needed.push_back(p.lexically_relative(dir));
  for (const std::filesystem::path& file : needed)
    if (!manifest["files"].contains(file.generic_string()))
      throw AppError(path.string() + " does not list " + file.generic_string() + ", so it cannot be checked");
  for (const auto& [file, digest] : manifest["files"].items()) {
    const std::filesystem::path p = dir / file;
    if (!std::filesystem::is_regular_file(p)) throw AppError("bundle " + dir.string() + ": " + file + " is missing");
    const std::string actual = sha256_file_hex(p);
    if (!digest.is_string() || actual != digest.get<std::string>())
      throw AppError("bundle " + dir.string() + ": " + file + " was modified or damaged (sha256 " + actual + ", " +
                     path.string() + " says " + digest.dump() + "); export the bundle again");
  }
  return manifest;
}

}  // namespace bcqnmt

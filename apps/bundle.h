#pragma once
// A deployable bundle (`bcqnmt export`): one model of a run and what it needs to translate,
// with a manifest that makes tampering and damage visible. It is the smallest run directory
// that translates, so open_experiment and load_run_model (apps/model_loading.h) read it and
// there is no second loader:
//   DIR/bundle.json                  the manifest (below)
//   DIR/config.json  DIR/vocab.pt.txt  DIR/vocab.en.txt
//   DIR/quantized/NAME/model.bcq     a quantized variant, with its settings.json, or
//   DIR/pretrain/best.ckpt           the full-precision model: its weights only (no Adam
//                                    moments, a third of the training checkpoint)
// The manifest: {"format": 1, "model": NAME, "bits_per_weight": x, "bit_allocation": {...}
// (quantized only), "config": {...}, "version": version_line() (apps/version.h),
// "files": {"config.json": "<sha256 hex>", ...}} with every other file of the bundle.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <iosfwd>
#include <string>

#include "apps/experiment.h"

namespace bcqnmt {

inline constexpr const char* kBundleManifest = "bundle.json";

// The model `export` takes when --model is not given: the config's default variant
// (default_variant_name, apps/quantized_variant.h) when it is finished, else the run's only
// finished variant, else "fp" when there is none. Finished means its training is over
// (unfinished_training), not only that it has a model.bcq; each variant passed over for that
// gets one line on `notes`. Several finished variants and none of them the config's default:
// AppError listing them (the choice is the user's).
std::string default_export_model(const Experiment& e, std::ostream& notes);

// What /health and the manifest say about a model: {"model": NAME, "bits_per_weight": x}
// (8 x model.bcq bytes / the Transformer's parameters, as `bcqnmt report` counts; 32 for fp)
// and, for a variant, "bit_allocation" (its settings.json "bits").
nlohmann::json describe_model(const Experiment& e, const std::string& model);

// Writes the bundle of `model` into `out`, atomically: everything goes to `out`.tmp.<pid>,
// which is renamed to `out` only when complete, so `out` is a whole bundle or absent.
// AppError if `out` exists (a bundle is never overwritten in place) or a file cannot be
// written; the temporary directory is removed on failure.
void write_bundle(const Experiment& e, const std::string& model, const std::filesystem::path& out);

// The manifest of the bundle in `dir`, after checking every listed file's SHA-256.
// AppError (one line) when the manifest is missing or malformed (or does not list the
// config, a vocabulary or the model's files), or a file is missing or
// does not match its digest ("...: vocab.en.txt was modified or damaged (sha256 ...,
// manifest says ...)").
nlohmann::json read_bundle_manifest(const std::filesystem::path& dir);

}  // namespace bcqnmt

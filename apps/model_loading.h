#pragma once
// The models a run can hold, by name: "fp" (pretrain/best.ckpt, full precision) and each
// quantized variant (quantized/NAME/model.bcq, run with the lookup-table kernels).
#include <memory>
#include <string>

#include "apps/experiment.h"
#include "nn/transformer.h"

namespace bcqnmt {

// Copies a checkpoint's weights (read from `path`) into the model through nn's one loader
// (load_parameters, nn/module.h): CheckpointError naming the file when a name or shape does
// not fit or a weight is NaN or Inf.
void load_model_parameters(Transformer& model, const Checkpoint& checkpoint, const std::filesystem::path& path);

// AppError naming the run's models when `name` is neither "fp" nor a finished variant.
std::unique_ptr<Transformer> load_run_model(const Experiment& e, const std::string& name);

// The model a translating command reads: `--run DIR [--model NAME]` or `--bundle DIR` (a
// bundle of `bcqnmt export`, apps/bundle.h, whose files' SHA-256 digests are checked first).
// UsageError unless exactly one of run and bundle is given.
struct LoadedModel {
  Experiment experiment;
  std::unique_ptr<Transformer> model;
  nlohmann::json description;  // describe_model (apps/bundle.h): name, bits per weight
};
LoadedModel load_model(const std::string& run, const std::string& bundle, const std::string& name);

}  // namespace bcqnmt

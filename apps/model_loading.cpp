#include "apps/model_loading.h"

#include <iostream>

#include "apps/run_manifest.h"

#include "apps/app_error.h"
#include "apps/bundle.h"
#include "apps/quantized_variant.h"
#include "nn/error.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

void load_model_parameters(Transformer& model, const Checkpoint& checkpoint, const std::filesystem::path& path) {
  try {
    load_parameters(model, checkpoint.parameters);
  } catch (const NnError& e) {
    throw CheckpointError(path.string() + ": " + e.what());
  }
}

std::unique_ptr<Transformer> load_run_model(const Experiment& e, const std::string& name) {
  if (name == kFullPrecisionModel) {
    const auto path = e.run.pretrain_dir() / "best.ckpt";
    e.run.require(path, "pretrain");
    auto model = std::make_unique<Transformer>(e.model, e.training.seed);
    const Checkpoint c = load_checkpoint(path);
    check_checkpoint_compatible(c, path, e.model_json(), e.source_vocab.fingerprint(), e.target_vocab.fingerprint());
    load_model_parameters(*model, c, path);
    model->eval();
    return model;
  }
  check_variant_name(name);
  const auto path = e.run.bcq_model(name);
  if (!std::filesystem::exists(path)) {
    std::string known = kFullPrecisionModel;
    for (const std::string& v : finished_variants(e.run)) known += ", " + v;
    throw AppError("run directory " + e.run.root.string() + " has no model \"" + name + "\" (" +
                   std::filesystem::relative(path, e.run.root).string() + "); its models: " + known +
                   " (`bcqnmt quantize --run " + e.run.root.string() + "` makes a quantized one)");
  }
  if (const std::string stale = stale_variant_warning(e.run, name); !stale.empty()) std::cerr << stale << std::endl;
  LoadedBcqModel loaded = load_bcq_model(path, /*kernels=*/true);
  if (loaded.source_vocab_fingerprint != e.source_vocab.fingerprint() ||
      loaded.target_vocab_fingerprint != e.target_vocab.fingerprint())
    throw AppError(path.string() + " was built with other vocabularies than " + e.run.root.string());
  loaded.model->eval();
  return std::move(loaded.model);
}

LoadedModel load_model(const std::string& run, const std::string& bundle, const std::string& name) {
  if (run.empty() == bundle.empty()) throw UsageError("give either --run DIR or --bundle DIR");
  const std::string model = bundle.empty() ? name : read_bundle_manifest(bundle)["model"].get<std::string>();
  LoadedModel loaded{open_experiment(bundle.empty() ? run : bundle, ""), nullptr, {}};
  loaded.model = load_run_model(loaded.experiment, model);
  loaded.description = describe_model(loaded.experiment, model);
  return loaded;
}

}  // namespace bcqnmt

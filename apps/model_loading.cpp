#include "apps/model_loading.h"

#include "apps/app_error.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

std::unique_ptr<Transformer> load_run_model(const Experiment& e, const std::string& kind) {
  if (kind == "fp") {
    const auto path = e.run.pretrain_dir() / "best.ckpt";
    e.run.require(path, "pretrain");
    auto model = std::make_unique<Transformer>(e.model, e.training.seed);
    const Checkpoint c = load_checkpoint(path);
    check_checkpoint_compatible(c, path, e.model_json(), e.source_vocab.fingerprint(), e.target_vocab.fingerprint());
    load_model_parameters(*model, c, path);
    model->eval();
    return model;
  }
  if (kind == "bcq") {
    e.run.require(e.run.bcq_model(), "quantize");
    LoadedBcqModel loaded = load_bcq_model(e.run.bcq_model(), /*kernels=*/true);
    if (loaded.source_vocab_fingerprint != e.source_vocab.fingerprint() ||
        loaded.target_vocab_fingerprint != e.target_vocab.fingerprint())
      throw AppError(e.run.bcq_model().string() + " was built with other vocabularies than " + e.run.root.string());
    loaded.model->eval();
    return std::move(loaded.model);
  }
  throw AppError("unknown model kind \"" + kind + "\" (expected fp or bcq)");
}

}  // namespace bcqnmt

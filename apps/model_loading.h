#pragma once
// The two models a run can hold: "fp" (pretrain/best.ckpt) and "bcq" (model.bcq, run with
// the lookup-table kernels).
#include <memory>
#include <string>

#include "apps/experiment.h"

namespace bcqnmt {

std::unique_ptr<Transformer> load_run_model(const Experiment& e, const std::string& kind);

}  // namespace bcqnmt

#pragma once
// Dropout as a module: active in training mode only. All dropout layers of a model share
// the model's generator, so one seed fixes every mask.
#include "core/ops.h"
#include "nn/module.h"

namespace bcqnmt {

class Dropout : public Module {
 public:
  Dropout(float rate, Rng& rng) : rate_(rate), rng_(&rng) {}
  Variable forward(const Variable& x) const { return dropout(x, rate_, *rng_, training()); }
  float rate() const { return rate_; }
  Rng& rng() const { return *rng_; }

 private:
  float rate_;
  Rng* rng_;
};

}  // namespace bcqnmt

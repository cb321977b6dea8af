#pragma once
// Keras' default initialisers, so a fresh model starts where the reference's did.
#include "core/random.h"
#include "core/tensor.h"

namespace bcqnmt {

// Glorot/Xavier uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' Dense default.
Tensor glorot_uniform(int64_t fan_in, int64_t fan_out, Rng& rng);
// U(lo, hi). Keras' Embedding default is uniform(-0.05, 0.05).
Tensor uniform_tensor(const Shape& shape, float lo, float hi, Rng& rng);

}  // namespace bcqnmt

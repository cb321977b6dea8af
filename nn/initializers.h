#pragma once
// Keras' default initialisers, so a fresh model starts where the reference's did.
#include "core/random.h"
#include "core/tensor.h"

namespace bcqnmt {

// The fans a Glorot limit is computed from. Keras' compute_fans reads them off the kernel's
// shape: [in, out] gives (in, out); a kernel of rank > 2 [r..., in, out] gives
// (in * prod(r), out * prod(r)) -- the "receptive field" rule written for convolutions,
// which Keras also applies to MultiHeadAttention's 3-D EinsumDense kernels.
struct GlorotFans {
  int64_t fan_in, fan_out;
};

// Glorot/Xavier uniform for a [rows, cols] matrix: U(-l, l), l = sqrt(6 / (fan_in +
// fan_out)). With fans = {rows, cols} it is Keras' Dense default.
Tensor glorot_uniform(int64_t rows, int64_t cols, GlorotFans fans, Rng& rng);
// U(lo, hi). Keras' Embedding default is uniform(-0.05, 0.05).
Tensor uniform_tensor(const Shape& shape, float lo, float hi, Rng& rng);

}  // namespace bcqnmt

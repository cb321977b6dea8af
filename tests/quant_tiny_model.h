#pragma once
// The tiny Transformer the whole-model BCQ tests quantize: 2 layers, d_model 16, 2 heads
// of 8, vocabularies 20 / 24, no dropout (so quantized and dense forwards compare exactly).
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/model_config.h"

namespace bcqnmt::test {

inline ModelConfig quant_tiny_config() {
  ModelConfig c;
  c.num_layers = 2;
  c.d_model = 16;
  c.dff = 32;
  c.num_heads = 2;
  c.key_dim = 8;
  c.dropout_rate = 0.0f;
  c.max_positions = 64;
  c.src_vocab_size = 20;
  c.tgt_vocab_size = 24;
  return c;
}

// How far the logits of quant_tiny_config's model on the LUT kernels may move, as a share of
// the largest logit. The kernels round their tables ("Table rounding", quant/bcq_gemm.h): each
// chunk of 4 columns is off by at most step / 2 = largest chunk / (2 x 8191), times
// sum_q |alpha_q| per output. An output is at least about |w| x largest chunk, |w| >=
// sum_q |alpha_q| / 3 for BCQ's decreasing 3-bit alphas, so with d_model = 16 (4 chunks) one
// product moves by at most 4 x 3 / (2 x 8191) = 7e-4 of it, and by ~2e-4 for roundings of
// uniform size and random sign (half as large on average, adding like sqrt(4)). About 6
// products lie in sequence on the way to a logit (per decoder layer: attention output and two
// FFN layers; then the output layer), each passing its input's error on: ~6 x 2e-4 ~ 1e-3;
// 2e-3 leaves room. Measured: 2.5e-4 against the dense model, 2e-4 between the fast and
// reference kernel paths (whose roundings flip where their fp32 activations differ); fp32
// rounding alone stayed below 1e-5.
constexpr double kTableRoundingLogitShare = 2e-3;

// The largest |got - want| over the logits of two decodes ([steps][B * V]), and the largest
// |want|, which a tolerance is a share of.
struct LogitGap {
  double largest_difference = 0.0, largest_logit = 0.0;
};
inline LogitGap logit_gap(const std::vector<std::vector<float>>& want, const std::vector<std::vector<float>>& got) {
  LogitGap gap;
  for (size_t s = 0; s < want.size() && s < got.size(); ++s)
    for (size_t i = 0; i < want[s].size() && i < got[s].size(); ++i) {
      gap.largest_difference = std::max(gap.largest_difference, static_cast<double>(std::fabs(want[s][i] - got[s][i])));
      gap.largest_logit = std::max(gap.largest_logit, static_cast<double>(std::fabs(want[s][i])));
    }
  return gap;
}

}  // namespace bcqnmt::test

#pragma once
// The learning rate of a training phase, step by step. Two shapes:
//
// Noam (Vaswani et al. 2017, eq. 3), pretraining's schedule as the reference protocol uses it
// (docs/reference.md §2): linear warm-up, then decay with 1/sqrt(step).
//   lr(s) = d_model^-0.5 * min(s^-0.5, s * warmup^-1.5),   s = 1, 2, ...
// The two branches meet at s = warmup, the peak: d_model^-0.5 * warmup^-0.5
// (0.0013975 for d_model 128, warmup 4000). Step 0 gives 0.
//
// Linear decay (fairseq's polynomial_decay with power 1, Hugging Face's "linear"): linear
// warm-up to `peak` over `warmup` steps, then a straight line that would reach 0 one step
// after the phase's last step `total`, so the last step still moves the weights a little:
//   lr(s) = peak * s / warmup                                for s <= warmup
//   lr(s) = peak * (total + 1 - s) / (total + 1 - warmup)    for warmup < s <= total, 0 after
// For fine-tuning with quantization in the loop: the straight-through estimator needs a rate
// that ends at zero, or the latent weights keep hopping across quantization thresholds and
// the last step decides which side they end on (tests/test_quant_ste.cpp, docs/bcq.md).
#include <cstdint>

namespace bcqnmt {

double noam_learning_rate(int64_t step, int64_t d_model, int64_t warmup);

// The linear decay's two settings; its end, `total`, is the phase's length in steps.
struct LinearDecay {
  double peak = 0.0;         // the rate at the end of the warm-up
  int64_t warmup_steps = 0;  // 0: the line starts at the peak at step 0
};

// total >= 1; a warm-up as long as the phase or longer never decays.
double linear_decay_learning_rate(int64_t step, const LinearDecay& decay, int64_t total);

}  // namespace bcqnmt

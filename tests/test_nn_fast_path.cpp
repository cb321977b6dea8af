// Speed changed nothing but speed: the same tiny Transformer, same seed, trained 50 steps
// with the fast kernels and with the plain reference paths (core/execution_context.h), gives
// the same loss curve. Under bf16 matmuls (core/gemm_bf16.h) the fast path (oneDNN) and
// the plain one (operands rounded, then sgemm) cannot agree that closely, for the reason
// worked out above the bf16 test case; there the check is that the two bf16 curves differ
// from each other no more than two bf16 roundings of the same run can.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/gemm_bf16.h"
#include "nn/metrics.h"
#include "optim/adam.h"
#include "isa_cap.h"
#include "reverse_task.h"

using namespace bcqnmt;

namespace {

std::vector<float> loss_curve(KernelPath path, GemmPrecision precision = GemmPrecision::fp32, uint64_t seed = 31) {
  const GemmPrecisionScope scope(precision);
  const KernelPathScope kernels(path);
  Transformer model(test::reverse_task_config(/*dropout_rate=*/0.1f), seed);  // dropout masks must match too
  Adam adam(model.parameters());
  Rng data(32);
  std::vector<float> losses;
  for (int step = 1; step <= 50; ++step) {
    const test::ReverseBatch batch = test::reverse_batch(32, 14, data);
    adam.zero_grad();
    Variable loss = model.masked_loss(batch.source, batch.target_in, batch.target_out);
    loss.backward();
    // At 2e-3 this model goes through a sharp drop in loss near step 45 that amplifies
    // rounding differences (different summation orders) to ~1e-3 by step 50; at 1e-3
    // the curves agree to ~1e-7.
    adam.step(1e-3);
    losses.push_back(loss.value().item());
  }
  return losses;
}

double max_relative_difference(const std::vector<float>& a, const std::vector<float>& reference) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - reference[i]) / std::abs(static_cast<double>(reference[i])));
  return worst;
}

// Every step's loss at full float precision (%.9g round-trips a float), so a refactoring that
// must not change behaviour can be checked by diffing this output before and after.
std::string curve_text(const std::string& name, const std::vector<float>& losses) {
  std::string text = name + ":";
  char figure[32];
  for (float loss : losses) {
    std::snprintf(figure, sizeof figure, " %.9g", static_cast<double>(loss));
    text += figure;
  }
  return text;
}

}  // namespace

TEST_CASE("fast and reference kernel paths give the same loss curve over 50 steps") {
  const std::vector<float> fast = loss_curve(KernelPath::fast);
  const std::vector<float> reference = loss_curve(KernelPath::reference);
  const double worst = max_relative_difference(fast, reference);
  MESSAGE(curve_text("fp32 fast", fast));
  MESSAGE(curve_text("fp32 reference", reference));
  MESSAGE("loss " << reference.front() << " -> " << reference.back() << "; max relative difference fast vs reference: "
                  << worst);
  CHECK(worst <= 1e-3);
  CHECK(fast.back() < fast.front());
}

// Why the bf16 paths drift apart, and how far they may (measured on a Zen 4 with
// AVX512-BF16 and on a Sapphire Rapids with AMX; issue 14):
//  1. One product: both paths round the same operands to bf16 (nearest-even, bit-identical)
//     and multiply exactly; they differ only in the order of the fp32 sums, within
//     Higham's bound 2 gamma_K sum|a b| with gamma_K ~ K u, u = 2^-24. test_core_gemm_bf16
//     checks each path against exact sums: both are at ~1e-8 rms of sum|a b|, whichever
//     oneDNN kernel (AMX tiles, avx512_core_bf16 dot-pairs) runs.
//  2. The next product rounds its operands to bf16 again. A value that differs by a
//     relative delta between the paths lands on the other side of a rounding boundary with
//     probability ~delta / eps (eps = 2^-8, the bf16 spacing), and then differs by eps.
//     In L2 a difference delta thus becomes sqrt(delta * eps): 1e-7 -> 2e-5 -> 3e-4 -> ...
//     tending to eps itself. Step-1 gradients show exactly this, layer by layer, backwards
//     from the logits: 1e-7 at the last decoder layer, 2e-5 one layer down, 2e-4 at the
//     encoder.
//  3. Adam normalises each update to ~lr whatever the gradient's size, so a gradient that
//     is pure rounding noise (a key projection's bias: softmax ignores a shift shared by a
//     row's scores, so its true gradient is 0) moves by +-lr on a coin toss per path.
// After a few layers the two paths are therefore two independent bf16 roundings of one
// run. If X = fast - fp32 and Y = reference - fp32 are independent and alike, fast -
// reference = X - Y is sqrt(2) times as large as X, and which oneDNN kernel runs (any
// fp32 summation order) only changes which of these equally likely curves comes out --
// hence 1.5e-3 on a Zen 4 against under 1e-3 on an AMX machine for the old single-seed
// test with a 1e-3 bound. The bound: averaged over seeds, the paths differ by at most
// 2 sqrt(2) times the bf16-vs-fp32 difference (a factor 2 of margin over the expectation;
// measured: 1.0x). A wrong kernel (a bad operand, padding or epilogue) is a different
// matter: test_core_gemm_bf16 catches it product by product at 1e-5.
// And how far bf16 may move the curve from fp32: each of the G ~ 16 products in sequence
// adds an independent relative rounding of ~eps/2 per element, so the logits carry
// ~sqrt(G) eps/2 ~ 8e-3 and the loss, a mean over N ~ 400 tokens, ~8e-3/sqrt(N) ~ 4e-4
// (measured at step 1: 2.5-3e-4). Fifty Adam steps let that grow (measured: 0.4-1.3e-3);
// 1e-2 leaves an order of magnitude of margin for that growth, while a broken bf16 path
// moves the curve by far more.
TEST_CASE("bf16 matmuls: fast and reference paths differ no more than bf16 rounding does, and stay near fp32") {
  if (!test::bf16_runs_at_capped_isa()) return;
  double paths = 0.0, precision = 0.0, worst_precision = 0.0;
  const std::vector<uint64_t> seeds{31, 32, 33, 34};
  for (uint64_t seed : seeds) {
    const std::vector<float> fast = loss_curve(KernelPath::fast, GemmPrecision::bf16, seed);
    const std::vector<float> reference = loss_curve(KernelPath::reference, GemmPrecision::bf16, seed);
    const std::vector<float> fp32 = loss_curve(KernelPath::fast, GemmPrecision::fp32, seed);
    const double p = max_relative_difference(fast, reference), r = max_relative_difference(fast, fp32);
    MESSAGE(curve_text("seed " + std::to_string(seed) + " bf16 fast", fast));
    MESSAGE(curve_text("seed " + std::to_string(seed) + " bf16 reference", reference));
    MESSAGE(curve_text("seed " + std::to_string(seed) + " fp32 fast", fp32));
    MESSAGE("seed " << seed << ": bf16 loss " << fast.front() << " -> " << fast.back() << " (fp32: " << fp32.back()
                    << "); max relative difference fast vs reference: " << p << ", bf16 vs fp32: " << r);
    paths += p / static_cast<double>(seeds.size());
    precision += r / static_cast<double>(seeds.size());
    worst_precision = std::max(worst_precision, r);
    CHECK(fast.back() < fast.front());
  }
  MESSAGE("mean over seeds: fast vs reference " << paths << ", bf16 vs fp32 " << precision);
  CHECK(paths <= 2.0 * std::sqrt(2.0) * precision);
  CHECK(worst_precision <= 1e-2);
}

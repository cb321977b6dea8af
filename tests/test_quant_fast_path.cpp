// The sibling of test_nn_fast_path for quantized inference: a .bcq model loaded onto the
// lookup-table kernels gives the same loss and the same translations on the fast kernel path
// (LUT kernels at the best ISA, fused attention) as on the reference path (plain loops over
// bits, rows and columns; attention composed of primitive ops), chosen the same way
// (KernelPathScope, core/execution_context.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/execution_context.h"
#include "nn/decoding.h"
#include "quant/bcq_model.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

IndexTensor ids(int64_t b, int64_t t, int vocab, uint64_t seed) {
  Rng rng(seed);
  IndexTensor out{{b, t}, std::vector<int32_t>(b * t)};
  for (auto& id : out.data) id = 4 + static_cast<int32_t>(rng.below(vocab - 4));
  return out;
}

struct Inference {
  std::vector<float> logits;  // [B, T, V]
  double loss;
  std::vector<std::vector<int32_t>> translations;
};

Inference infer(Transformer& model, KernelPath path) {
  const KernelPathScope kernels(path);
  const NoGradGuard no_grad;
  const IndexTensor source = ids(4, 7, 20, 1), target_in = ids(4, 6, 24, 2), target_out = ids(4, 6, 24, 3);
  DecodeOptions options;
  options.max_length = 12;
  const Tensor logits = model.forward(source, target_in).value();
  return {std::vector<float>(logits.data(), logits.data() + logits.numel()),
          model.masked_loss(source, target_in, target_out).value().item(), translate_batch(model, source, options)};
}

}  // namespace

TEST_CASE("quantized inference on the LUT kernels: fast and reference kernel paths agree") {
  Transformer model(test::quant_tiny_config(), 5);
  QuantizeSettings settings;
  settings.bits = BitAllocation::uniform(3);
  settings.bits.encoder_ffn = 2;
  settings.bits.decoder_ffn = 1;
  test::ScratchDir dir;
  BcqModel::quantize(model, settings).save(dir.path / "model.bcq", model, 0, 0);
  const LoadedBcqModel packed = load_bcq_model(dir.path / "model.bcq", /*kernels=*/true);
  packed.model->eval();
  const Inference fast = infer(*packed.model, KernelPath::fast);
  const Inference reference = infer(*packed.model, KernelPath::reference);
  const double difference = std::abs(fast.loss - reference.loss) / std::abs(reference.loss);
  double logits = 0.0, scale = 0.0;
  for (size_t i = 0; i < fast.logits.size(); ++i) {
    logits = std::max(logits, static_cast<double>(std::abs(fast.logits[i] - reference.logits[i])));
    scale = std::max(scale, static_cast<double>(std::abs(reference.logits[i])));
  }
  MESSAGE("quantized loss " << fast.loss << " (fast) vs " << reference.loss << " (reference): relative difference "
                            << difference << "; logits differ by at most " << logits << " of " << scale);
  CHECK(difference <= 1e-5);  // float sums in another order, nothing more
  CHECK(logits <= test::kTableRoundingLogitShare * scale);
  CHECK(fast.translations == reference.translations);
}

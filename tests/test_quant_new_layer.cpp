// Adding a layer with a weight matrix, end to end (docs/extending.md): the ReGLU gate
// ("ffn_gate", nn/feed_forward.h) is a Linear inside FeedForward, and nothing in quant/
// names it. It must still be quantized, trained through the straight-through estimator and
// run on the lookup-table kernels, because all three find layers by type
// (Module::for_each) and the gate's path falls in the FFN's bit group. A layer BCQ cannot
// place is an error, never a weight silently left dense.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/decoding.h"
#include "quant/bcq_model.h"
#include "quant/bcq_model_layers.h"
#include "quant/quant_error.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

ModelConfig gated_config() {
  ModelConfig c = test::quant_tiny_config();
  c.ffn_gate = true;
  return c;
}

QuantizeSettings three_bits() {
  QuantizeSettings s;
  s.bits = BitAllocation::uniform(3);
  s.bits.encoder_ffn = 2;  // the gates follow their FFN's group
  return s;
}

const std::vector<std::string> kGates{"encoder/layer_0/ffn/gate/kernel", "encoder/layer_1/ffn/gate/kernel",
                                      "decoder/layer_0/ffn/gate/kernel", "decoder/layer_1/ffn/gate/kernel"};

IndexTensor ids(int64_t b, int64_t t, int vocab, uint64_t seed) {
  Rng rng(seed);
  IndexTensor out{{b, t}, std::vector<int32_t>(b * t)};
  for (auto& id : out.data) id = 4 + static_cast<int32_t>(rng.below(vocab - 4));
  return out;
}

}  // namespace

TEST_CASE("the ReGLU gate is quantized, straight-through trained and run on the LUT kernels") {
  Transformer model(gated_config(), 3);
  const QuantizeSettings settings = three_bits();

  // Quantized, in its FFN's bit group.
  const BcqModel bcq = BcqModel::quantize(model, settings);
  for (const std::string& gate : kGates) {
    REQUIRE(bcq.matrices().count(gate) == 1);
    CHECK(bcq.matrices().at(gate).average_bits() == (gate.rfind("encoder", 0) == 0 ? 2.0 : 3.0));
  }

  // Straight-through: the model trains on the quantized weights of every layer, gates
  // included, exactly as a copy carrying the dequantized weights computes.
  Transformer projected(gated_config(), 3);
  bcq.write_dequantized(projected);
  enable_straight_through(model, settings);
  const IndexTensor source = ids(3, 6, 20, 1), target_in = ids(3, 5, 24, 2), target_out = ids(3, 5, 24, 3);
  Variable loss = model.masked_loss(source, target_in, target_out);
  const double want = projected.masked_loss(source, target_in, target_out).value().item();
  CHECK(loss.value().item() == doctest::Approx(want).epsilon(1e-6));
  loss.backward();
  for (const auto& [name, p] : model.named_parameters())
    if (name.find("/gate/kernel") != std::string::npos) CHECK(p.grad().defined());
  disable_straight_through(model);

  // LUT kernels: every Linear of the loaded model runs packed, the gates too.
  test::ScratchDir dir;
  bcq.save(dir.path / "gated.bcq", model, 0, 0);
  const LoadedBcqModel packed = load_bcq_model(dir.path / "gated.bcq", /*kernels=*/true);
  const LoadedBcqModel dense = load_bcq_model(dir.path / "gated.bcq", /*kernels=*/false);
  int gates = 0;
  packed.model->for_each<Linear>([&](const std::string& path, Linear& linear) {
    CAPTURE(path);
    CHECK(linear.packed());
    gates += path.ends_with("/gate");
  });
  CHECK(gates == 4);
  packed.model->eval();
  dense.model->eval();
  DecodeOptions options;
  options.max_length = 10;
  CHECK(translate_batch(*packed.model, source, options) == translate_batch(*dense.model, source, options));
}

namespace {

// A Linear under "encoder" in no sub-layer bit_group_of knows.
struct EncoderWithAdapter : Module {
  Rng rng{1};
  Linear adapter{4, 4, rng};
  EncoderWithAdapter() { register_module("adapter", adapter); }
};
struct Root : Module {
  EncoderWithAdapter encoder;
  Root() { register_module("encoder", encoder); }
};

// A weight matrix registered directly, not through a Linear or Embedding.
struct RawWeight : Module {
  RawWeight() { register_parameter("kernel", Tensor::zeros({4, 4})); }
};
struct RootWithRawWeight : Module {
  RawWeight final_layer;
  RootWithRawWeight() { register_module("final_layer", final_layer); }
};

}  // namespace

TEST_CASE("a layer BCQ cannot place is an error in both directions") {
  Root unplaced;
  CHECK_THROWS_WITH_AS(bcq_model_layers(unplaced),
                       doctest::Contains("the Linear at 'encoder/adapter' has no bit group"), QuantError);
  RootWithRawWeight raw;
  CHECK_THROWS_WITH_AS(bcq_quantized_weights(raw),
                       doctest::Contains("'final_layer/kernel' is not held by a Linear or Embedding"), QuantError);
}

TEST_CASE("Module::for_each finds modules by type with their paths, depth first") {
  Transformer model(gated_config(), 1);
  std::vector<std::string> paths;
  model.for_each<FeedForward>([&](const std::string& path, FeedForward&) { paths.push_back(path); });
  CHECK(paths == std::vector<std::string>{"encoder/layer_0/ffn", "encoder/layer_1/ffn", "decoder/layer_0/ffn",
                                          "decoder/layer_1/ffn"});
  int linears = 0;
  static_cast<const Transformer&>(model).for_each<Linear>([&](const std::string&, const Linear&) { ++linears; });
  CHECK(linears == 2 * (4 + 3) + 2 * (8 + 3) + 1);  // encoder: Q K V O + 3 FFN; decoder: 2 x 4 + 3; final
}

// RMSNorm, the layer docs/extending.md adds end to end: the fused core op against a plain
// loop and finite differences, the nn module, and its selection from a model config.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gradcheck.h"
#include "nn/error.h"
#include "nn/transformer.h"

using namespace bcqnmt;
using bcqnmt::testing::check_gradients;
using bcqnmt::testing::random_tensor;

TEST_CASE("rms_norm forward equals the definition y = x / sqrt(mean(x^2) + eps) * gamma") {
  Rng rng(3);
  const Tensor x = random_tensor({3, 5, 7}, rng, -2.0f, 2.0f);
  const Tensor gamma = random_tensor({7}, rng, 0.5f, 1.5f);
  const float eps = 1e-3f;
  const Tensor y = rms_norm(Variable(x), Variable(gamma), eps).value();
  REQUIRE(y.shape() == x.shape());
  for (int64_t r = 0; r < 15; ++r) {
    double ms = 0.0;
    for (int64_t j = 0; j < 7; ++j) ms += double(x.data()[r * 7 + j]) * x.data()[r * 7 + j];
    const double rs = 1.0 / std::sqrt(ms / 7.0 + eps);
    for (int64_t j = 0; j < 7; ++j)
      CHECK(y.data()[r * 7 + j] == doctest::Approx(x.data()[r * 7 + j] * rs * gamma.data()[j]).epsilon(1e-5));
  }
}

TEST_CASE("rms_norm: finite-difference gradients of x and gamma") {
  Rng rng(4);
  // 70 rows: more than one 64-row block of the dgamma reduction.
  Variable x(random_tensor({2, 35, 6}, rng), true);
  Variable gamma(random_tensor({6}, rng, 0.5f, 1.5f), true);
  check_gradients("rms_norm", [](std::vector<Variable>& in) { return rms_norm(in[0], in[1], 1e-3f); }, {x, gamma});
}

TEST_CASE("\"norm\": \"rms_norm\" swaps every residual block's LayerNorm for RMSNorm") {
  std::ifstream f(std::string(BCQNMT_SOURCE_DIR) + "/configs/small.json");
  REQUIRE(f.good());
  nlohmann::json j = nlohmann::json::parse(f).at("model");
  ModelConfig reference = ModelConfig::from_json(j);
  CHECK(reference.norm == Norm::layer_norm);
  CHECK_FALSE(reference.to_json().contains("norm"));  // old runs keep their model identity
  j["norm"] = "rms_norm";
  ModelConfig rms = ModelConfig::from_json(j);
  CHECK(ModelConfig::from_json(rms.to_json()).norm == Norm::rms_norm);
  for (ModelConfig* c : {&reference, &rms}) {
    c->src_vocab_size = 7765;
    c->tgt_vocab_size = 7010;
  }
  const Transformer a(reference, 1), b(rms, 1);
  // 4 encoder layers x 2 blocks + 4 decoder layers x 3 blocks, each without a beta [128].
  CHECK(a.num_parameters() == 10184162);
  CHECK(b.num_parameters() == 10184162 - 20 * 128);
  int rms_gammas = 0;
  for (const auto& [name, p] : b.named_parameters()) {
    CHECK(name.find("layer_norm") == std::string::npos);
    rms_gammas += name.ends_with("/rms_norm/gamma");
  }
  CHECK(rms_gammas == 20);
  CHECK(b.named_parameters()[9].first == "encoder/layer_0/self_attention/rms_norm/gamma");

  // The model runs and the loss is differentiable end to end.
  rms.num_layers = 1;
  rms.d_model = 8;
  rms.dff = 16;
  rms.num_heads = 2;
  rms.key_dim = 4;
  rms.src_vocab_size = rms.tgt_vocab_size = 10;
  Transformer small(rms, 2);
  const IndexTensor source{{1, 4}, {2, 5, 6, 3}}, target_in{{1, 3}, {2, 7, 8}}, labels{{1, 3}, {7, 8, 3}};
  Variable loss = cross_entropy(small.forward(source, target_in), labels);
  loss.backward();
  for (const auto& [name, p] : small.named_parameters())
    if (name.ends_with("rms_norm/gamma")) CHECK(p.grad().defined());
}

TEST_CASE("\"norm\" must name a known normalisation") {
  CHECK_THROWS_WITH_AS(ModelConfig::from_json(nlohmann::json{{"norm", "batch_norm"}}),
                       doctest::Contains("\"norm\" must be \"layer_norm\" or \"rms_norm\""), NnError);
  CHECK_THROWS_AS(ModelConfig::from_json(nlohmann::json{{"norm", 1}}), NnError);
}

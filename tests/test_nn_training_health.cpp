// The health signals of nn/training_health.h on hand-made inputs, and on a model.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/training_health.h"
#include "reverse_task.h"

using namespace bcqnmt;

TEST_CASE("position_varying_share: 0 for identical positions, the hand-computed share otherwise; padding ignored") {
  // Two sentences, S = 3, D = 2. Sentence 0: every position (1, 2) -> nothing varies.
  // Sentence 1 (length 2; position 2 is padding holding junk): (1, 0) and (-1, 0): mean 0,
  // all of its energy varies.
  Tensor x({2, 3, 2});
  const float values[] = {1, 2, 1, 2, 1, 2, 1, 0, -1, 0, 50, 50};
  std::copy(std::begin(values), std::end(values), x.data());
  CHECK(position_varying_share(x, {3, 0}) == doctest::Approx(0.0));
  CHECK(position_varying_share(x, {0, 2}) == doctest::Approx(1.0));
  // Together: varying 0 + 2, total 15 + 2.
  CHECK(position_varying_share(x, {3, 2}) == doctest::Approx(2.0 / 17.0));
}

TEST_CASE("normalised_attention_entropy: 1 for uniform rows, 0 for one-hot rows; single-key rows and padded queries skipped") {
  Tensor p({2, 1, 2, 4});  // [B, H, Tq, Tk]
  const float rows[] = {0.25f, 0.25f, 0.25f, 0.25f, 0, 1, 0, 0,  // sentence 0: uniform, one-hot
                        1, 0, 0, 0, 1, 0, 0, 0};                 // sentence 1: one key only
  std::copy(std::begin(rows), std::end(rows), p.data());
  CHECK(normalised_attention_entropy(p, {4, 1}, {2, 2}) == doctest::Approx(0.5));
  CHECK(normalised_attention_entropy(p, {4, 1}, {1, 2}) == doctest::Approx(1.0));  // the one-hot row is padding
  // Uniform over the 2 visible keys of 4 stored ones.
  Tensor half({1, 1, 1, 4});
  const float h[] = {0.5f, 0.5f, 0, 0};
  std::copy(std::begin(h), std::end(h), half.data());
  CHECK(normalised_attention_entropy(half, {2}, {1}) == doctest::Approx(1.0));
}

TEST_CASE("measure_health on a fresh model, and gradient norms per group") {
  Transformer model(test::reverse_task_config(0.1f), 7);
  Rng rng(8);
  const test::ReverseBatch batch = test::reverse_batch(8, 10, rng);
  model.train();
  const ModelHealth h = measure_health(model, batch.source, batch.target_in);
  CHECK(model.training());  // mode restored
  CHECK(h.encoder_position_share > 0.05);
  CHECK(h.encoder_position_share < 1.0);
  CHECK(h.cross_attention_entropy > 0.9);  // a fresh model attends nearly uniformly
  CHECK(h.cross_attention_entropy <= 1.0 + 1e-9);

  Variable loss = model.masked_loss(batch.source, batch.target_in, batch.target_out);
  loss.backward();
  const auto norms = gradient_norms_by_group(model);
  std::vector<std::string> groups;
  for (const auto& [group, norm] : norms) {
    groups.push_back(group);
    CHECK(std::isfinite(norm));
    CHECK(norm > 0.0);
  }
  CHECK(groups == std::vector<std::string>{"encoder/pos_embedding", "encoder/self_attention", "encoder/ffn",
                                           "decoder/pos_embedding", "decoder/causal_self_attention",
                                           "decoder/cross_attention", "decoder/ffn", "final_layer"});
}

// nn/cross_attention_map.h: the teacher-forced map equals the probabilities the incremental
// decoder records step by step (the way `bcqnmt plot` read them before), and each row is a
// distribution over the source.
#include <doctest/doctest.h>

#include <numeric>

#include "nn/cross_attention_map.h"
#include "nn/decoding.h"
#include "quant_tiny_model.h"

using namespace bcqnmt;

TEST_CASE("cross_attention_map equals the incremental decoder's recorded attention, row by row") {
  Transformer model(test::quant_tiny_config(), 7);  // 2 heads
  model.eval();
  const IndexTensor source{{1, 6}, {kStartId, 5, 9, 4, 7, kEndId}};
  DecodeOptions options;
  options.max_length = 9;

  // The reference: record while decoding greedily, one [1, H, 1, S] per step.
  std::vector<Tensor> steps;
  MultiHeadAttention& mha = model.decoder().layers().back()->cross_attention().mha();
  mha.record_probabilities(&steps);
  const std::vector<int32_t> output = translate_batch(model, source, options).front();
  mha.record_probabilities(nullptr);

  const std::vector<std::vector<float>> map = cross_attention_map(model, source, output);
  REQUIRE(map.size() == output.size() + 1);
  // A finished translation took one step per token plus the [END] step; a cut one (no
  // [END]) one per token, and the map's last row is then the step it never took.
  REQUIRE(steps.size() >= output.size());
  for (size_t t = 0; t < steps.size(); ++t) {
    REQUIRE(map[t].size() == 6);
    CHECK(std::accumulate(map[t].begin(), map[t].end(), 0.0f) == doctest::Approx(1.0f).epsilon(1e-5));
    for (int64_t j = 0; j < 6; ++j) {
      const float mean = (steps[t].data()[j] + steps[t].data()[6 + j]) / 2.0f;  // [1, H=2, 1, S]
      CHECK(map[t][j] == doctest::Approx(mean).epsilon(1e-5));
    }
  }
}

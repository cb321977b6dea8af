// A tiny Transformer learns a generated sequence task: output the source reversed.
#include <doctest/doctest.h>

#include "nn/decoding.h"
#include "nn/metrics.h"
#include "nn/transformer.h"
#include "optim/adam.h"
#include "reverse_task.h"

using namespace bcqnmt;

using test::reverse_batch;
using test::ReverseBatch;

TEST_CASE("a tiny Transformer learns to reverse random token sequences") {
  Transformer model(test::reverse_task_config(), 21);
  Adam adam(model.parameters());
  Rng data_rng(22);
  for (int step = 1; step <= 600; ++step) {
    ReverseBatch batch = reverse_batch(32, 14, data_rng);
    adam.zero_grad();
    Variable loss = masked_loss(model.forward(batch.source, batch.target_in), batch.target_out);
    loss.backward();
    adam.step(step < 50 ? 3e-3 * step / 50 : 3e-3);
  }
  model.eval();
  NoGradGuard no_grad;
  ReverseBatch held_out = reverse_batch(256, 14, data_rng);
  const TokenCounts counts = masked_accuracy(model.forward(held_out.source, held_out.target_in).value(), held_out.target_out);
  MESSAGE("held-out token accuracy (teacher forcing): " << counts.accuracy());
  CHECK(counts.accuracy() >= 0.95);
  // Free-running greedy decoding reproduces whole reversed sequences too.
  auto outputs = translate_batch(model, held_out.source, DecodeOptions{});
  int exact = 0;
  for (int64_t n = 0; n < 256; ++n) {
    std::vector<int32_t> expected;
    for (int64_t j = 0; j < 9 && held_out.target_out.data[n * 9 + j] != kEndId; ++j)
      expected.push_back(held_out.target_out.data[n * 9 + j]);
    exact += outputs[n] == expected;
  }
  MESSAGE("greedy exact-match sequences: " << exact << " / 256");
  CHECK(exact >= 200);
}

#pragma once
// A generated sequence task small models learn in seconds: output the source reversed.
// Shared by the tests that train a tiny Transformer (nn learning, BCQ fine-tuning).
#include <vector>

#include "core/random.h"
#include "nn/decoding.h"
#include "nn/model_config.h"

namespace bcqnmt::test {

struct ReverseBatch {
  IndexTensor source, target_in, target_out;
};

// The model the reverse-task tests train: 2 layers, d_model 32, vocabulary 14.
inline ModelConfig reverse_task_config(float dropout_rate = 0.0f) {
  ModelConfig c;
  c.num_layers = 2;
  c.d_model = 32;
  c.dff = 64;
  c.num_heads = 4;
  c.key_dim = 8;
  c.dropout_rate = dropout_rate;
  c.max_positions = 64;
  c.src_vocab_size = c.tgt_vocab_size = 14;
  return c;
}

// Source [START] x1..xn [END]; target [START] xn..x1 [END]; symbols 4..vocab-1; right-padded.
inline ReverseBatch reverse_batch(int64_t b, int vocab, Rng& rng) {
  const int64_t width = 10;
  ReverseBatch batch{{{b, width}, std::vector<int32_t>(b * width, 0)},
                     {{b, width - 1}, std::vector<int32_t>(b * (width - 1), 0)},
                     {{b, width - 1}, std::vector<int32_t>(b * (width - 1), 0)}};
  for (int64_t n = 0; n < b; ++n) {
    const int len = 3 + static_cast<int>(rng.below(6));  // 3..8 symbols
    std::vector<int32_t> xs(len);
    for (auto& x : xs) x = 4 + static_cast<int32_t>(rng.below(vocab - 4));
    std::vector<int32_t> src{kStartId}, tgt{kStartId};
    src.insert(src.end(), xs.begin(), xs.end());
    tgt.insert(tgt.end(), xs.rbegin(), xs.rend());
    src.push_back(kEndId);
    tgt.push_back(kEndId);
    for (size_t j = 0; j < src.size(); ++j) batch.source.data[n * width + j] = src[j];
    for (size_t j = 0; j + 1 < tgt.size(); ++j) {
      batch.target_in.data[n * (width - 1) + j] = tgt[j];
      batch.target_out.data[n * (width - 1) + j] = tgt[j + 1];
    }
  }
  return batch;
}

}  // namespace bcqnmt::test

#include "nn/cross_attention_map.h"

#include "core/token_ids.h"

namespace bcqnmt {

std::vector<std::vector<float>> cross_attention_map(Transformer& model, const IndexTensor& source,
                                                    const std::vector<int32_t>& output) {
  NoGradGuard no_grad;
  std::vector<int32_t> target_in{kStartId};
  target_in.insert(target_in.end(), output.begin(), output.end());
  const int64_t steps = static_cast<int64_t>(target_in.size());
  const AttentionMask source_mask = padding_mask(source, false);
  const Variable encoded = model.encoder().forward(source, source_mask);  // [1, S, D]
  std::vector<Tensor> recorded;  // one [1, H, T, S]
  MultiHeadAttention& mha = model.decoder().layers().back()->cross_attention().mha();
  mha.record_probabilities(&recorded);
  model.decoder().forward(IndexTensor{{1, steps}, target_in}, encoded, source_mask);
  mha.record_probabilities(nullptr);
  const Tensor& p = recorded.at(0);
  const int64_t heads = p.size(1), keys = p.size(3);
  std::vector<std::vector<float>> weights(steps, std::vector<float>(keys, 0.0f));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t j = 0; j < keys; ++j)
        weights[t][j] += p.data()[(h * steps + t) * keys + j] / static_cast<float>(heads);
  return weights;
}

}  // namespace bcqnmt

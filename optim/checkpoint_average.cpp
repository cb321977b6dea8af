#include "optim/checkpoint_average.h"

#include "optim/checkpoint_error.h"

namespace bcqnmt {

Checkpoint average_checkpoints(const std::vector<Checkpoint>& checkpoints) {
  if (checkpoints.empty()) throw CheckpointError("checkpoint averaging needs at least one checkpoint");
  const Checkpoint& last = checkpoints.back();
  for (const Checkpoint& c : checkpoints) {
    if (c.config_json != last.config_json || c.source_vocab_fingerprint != last.source_vocab_fingerprint ||
        c.target_vocab_fingerprint != last.target_vocab_fingerprint)
      throw CheckpointError("checkpoint averaging: the checkpoints come from different models or vocabularies");
    if (c.parameters.size() != last.parameters.size())
      throw CheckpointError("checkpoint averaging: the checkpoints hold different numbers of parameters");
    for (size_t i = 0; i < c.parameters.size(); ++i)
      if (c.parameters[i].name != last.parameters[i].name ||
          c.parameters[i].value.shape() != last.parameters[i].value.shape())
        throw CheckpointError("checkpoint averaging: parameter " + c.parameters[i].name + " does not match " +
                              last.parameters[i].name);
  }
  Checkpoint average = last;
  average.metrics.clear();
  average.optimizer = AdamState{};
  const double scale = 1.0 / static_cast<double>(checkpoints.size());
  for (size_t i = 0; i < last.parameters.size(); ++i) {
    const int64_t n = last.parameters[i].value.numel();
    std::vector<double> sum(n, 0.0);
    for (const Checkpoint& c : checkpoints) {
      const float* p = c.parameters[i].value.data();
      for (int64_t k = 0; k < n; ++k) sum[k] += p[k];
    }
    Tensor mean(last.parameters[i].value.shape());  // a new buffer: `last`'s tensors stay untouched
    for (int64_t k = 0; k < n; ++k) mean.data()[k] = static_cast<float>(sum[k] * scale);
    average.parameters[i].value = mean;
  }
  return average;
}

}  // namespace bcqnmt

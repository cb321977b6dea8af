#include "apps/training_batches.h"

#include <algorithm>

namespace bcqnmt {

BatchLimits batch_limits(const TrainingConfig& config) {
  return {config.max_tokens, config.max_tokens + 1};
}

namespace {
BucketOptions bucket_options(const TrainingConfig& config) {
  BucketOptions options;
  options.token_budget = config.token_budget;
  return options;
}
}  // namespace

void check_batcher_options(const TrainingConfig& config) {
  if (config.batcher == BatcherKind::bucketed) check_bucket_options(bucket_options(config), batch_limits(config));
}

std::unique_ptr<Batcher> make_batcher(const TrainingConfig& config, const EncodedCorpus& train) {
  if (config.batcher == BatcherKind::bucketed)
    return std::make_unique<BucketBatcher>(train, config.seed, bucket_options(config), batch_limits(config));
  ShuffleBufferOptions options;
  options.batch_size = config.batch_size;
  options.buffer_size = config.shuffle_buffer;
  return std::make_unique<ShuffleBufferBatcher>(train, config.seed, options, batch_limits(config));
}

std::vector<int64_t> rank_shard(const std::vector<int64_t>& pairs, const EncodedCorpus& corpus, const BatchLimits& limits,
                                int rank, int ranks) {
  if (ranks == 1) return pairs;
  std::vector<int64_t> tokens(pairs.size());
  int64_t total = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    tokens[i] = source_row_length(corpus.source[pairs[i]], limits) + target_row_length(corpus.target[pairs[i]], limits);
    total += tokens[i];
  }
  std::vector<int64_t> shard;
  int64_t before = 0;  // tokens of the pairs before pair i
  for (size_t i = 0; i < pairs.size(); ++i) {
    // The middle of pair i is at before + tokens / 2 of `total`; in integers, times 2.
    const int64_t owner = std::min<int64_t>(ranks - 1, (2 * before + tokens[i]) * ranks / (2 * total));
    if (owner == rank) shard.push_back(pairs[i]);
    before += tokens[i];
  }
  return shard;
}

}  // namespace bcqnmt

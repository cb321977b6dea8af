#include "apps/training_batches.h"

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
  if (config.batcher == "bucketed") check_bucket_options(bucket_options(config), batch_limits(config));
}

std::unique_ptr<Batcher> make_batcher(const TrainingConfig& config, const EncodedCorpus& train) {
  if (config.batcher == "bucketed")
    return std::make_unique<BucketBatcher>(train, config.seed, bucket_options(config), batch_limits(config));
  ShuffleBufferOptions options;
  options.batch_size = config.batch_size;
  options.buffer_size = config.shuffle_buffer;
  return std::make_unique<ShuffleBufferBatcher>(train, config.seed, options, batch_limits(config));
}

}  // namespace bcqnmt

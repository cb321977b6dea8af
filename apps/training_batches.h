#pragma once
// The batcher a training config asks for (data/batcher.h): "reference" is the TF
// pipeline's shuffle(20000).batch(64); "bucketed" groups pairs of similar length under a
// token budget, the fast path.
#include <memory>

#include "apps/training_config.h"
#include "data/batcher.h"

namespace bcqnmt {

BatchLimits batch_limits(const TrainingConfig& config);
std::unique_ptr<Batcher> make_batcher(const TrainingConfig& config, const EncodedCorpus& train);
// The options make_batcher would pass, checked without a corpus (DataError): what a config
// reader calls before anything is written.
void check_batcher_options(const TrainingConfig& config);

}  // namespace bcqnmt

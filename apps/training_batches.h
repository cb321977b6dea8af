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

// Rank `rank` of `ranks`' share of a global batch (data-parallel training,
// optim/data_parallel.h): a contiguous run of `pairs`, cut so that every rank gets about
// the same number of tokens (source + target, after `limits` cut them). Pair i goes to
// the rank whose share of the batch's tokens holds the middle of pair i, so the shards are
// disjoint, cover the batch, keep its order, and differ by at most one pair's tokens from
// an even split. A batch with fewer pairs than ranks leaves some shards empty. With one
// rank: `pairs` itself.
std::vector<int64_t> rank_shard(const std::vector<int64_t>& pairs, const EncodedCorpus& corpus, const BatchLimits& limits,
                                int rank, int ranks);

}  // namespace bcqnmt

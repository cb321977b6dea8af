#pragma once
// Epoch-wise, seeded, resumable batch streams over an EncodedCorpus.
//
// An epoch's batch list is a pure function of (seed, epoch), so the whole position of a
// stream is BatcherState {seed, epoch, position}: a checkpoint stores it (cereal) and
// restore() reproduces exactly the remaining batches. Every pair appears in exactly one
// batch per epoch (nothing is dropped; over-long pairs are cut, see BatchLimits).
//
//   ShuffleBufferBatcher: the reference pipeline, tf.data shuffle(20000).batch(64).
//   BucketBatcher: the fast path for training. Shuffle all pairs, sort windows of them by
//     length, cut each sorted window into batches under a token budget, shuffle the batch
//     order. Far less padding than the reference's (see data/README.md for figures).
#include <cstdint>
#include <vector>

#include <cereal/cereal.hpp>

#include "core/random.h"
#include "data/batch.h"

namespace bcqnmt {

struct BatcherState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t position = 0;  // batches of `epoch` already handed out

  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::make_nvp("seed", seed), cereal::make_nvp("epoch", epoch), cereal::make_nvp("position", position));
  }
  bool operator==(const BatcherState&) const = default;
};

class Batcher {
 public:
  virtual ~Batcher() = default;

  // Fills `batch` with the next batch of the current epoch. At the end of an epoch it
  // returns false and moves to the start of the next one.
  bool next(Batch& batch);
  // The same step as next(), giving the batch's pair indices instead of the batch (a
  // data-parallel rank makes a Batch of its shard of them, apps/training_batches.h).
  bool next_pairs(std::vector<int64_t>& pairs);
  int64_t batches_in_epoch();  // of the current epoch
  const BatcherState& state() const { return state_; }
  void restore(const BatcherState& state);  // DataError if position is past the epoch's end

 protected:
  // `corpus` must outlive the batcher.
  Batcher(const EncodedCorpus& corpus, uint64_t seed, const BatchLimits& limits);
  // The epoch's batches as lists of pair indices; `rng` is seeded from (seed, epoch).
  virtual std::vector<std::vector<int64_t>> plan_epoch(Rng& rng) const = 0;

  const EncodedCorpus& corpus_;
  BatchLimits limits_;

 private:
  void ensure_plan();

  BatcherState state_;
  std::vector<std::vector<int64_t>> plan_;
  int64_t plan_epoch_ = -1;  // epoch plan_ belongs to
};

struct ShuffleBufferOptions {
  int64_t batch_size = 64;
  int64_t buffer_size = 20'000;
};

class ShuffleBufferBatcher : public Batcher {
 public:
  ShuffleBufferBatcher(const EncodedCorpus& corpus, uint64_t seed, const ShuffleBufferOptions& options = {},
                       const BatchLimits& limits = {});

 protected:
  std::vector<std::vector<int64_t>> plan_epoch(Rng& rng) const override;

 private:
  ShuffleBufferOptions options_;
};

struct BucketOptions {
  int64_t token_budget = 4096;  // B * max(S, T) per batch, padding included (the config's "token_budget")
  int64_t max_pairs = 512;    // B at most
  int64_t window = 16'384;    // pairs sorted together
};

// Throws DataError when no batch could hold a row of the longest allowed length (checked
// by the constructor, and by a config reader before anything is written).
void check_bucket_options(const BucketOptions& options, const BatchLimits& limits);

class BucketBatcher : public Batcher {
 public:
  BucketBatcher(const EncodedCorpus& corpus, uint64_t seed, const BucketOptions& options = {},
                const BatchLimits& limits = {});

 protected:
  std::vector<std::vector<int64_t>> plan_epoch(Rng& rng) const override;

 private:
  BucketOptions options_;
};

}  // namespace bcqnmt

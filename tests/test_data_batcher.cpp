// Batchers: reference layout of a batch, every pair exactly once per epoch, exact resume
// from a saved state (through cereal), and padding waste.
#include <doctest/doctest.h>

#include <cereal/archives/binary.hpp>
#include <cereal/archives/json.hpp>
#include <cmath>
#include <memory>
#include <sstream>

#include "core/random.h"
#include "apps/training_batches.h"
#include "data/batcher.h"
#include "data/data_error.h"
#include "data/vocabulary.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

// Pair i has a source of length (i * 7) % 40 + 1 and a target of (i * 13) % 150 + 1 (some
// over the 128/129 limits); token values encode the pair so rows can be traced back.
EncodedCorpus synthetic_corpus(int64_t pairs) {
  EncodedCorpus corpus;
  for (int64_t i = 0; i < pairs; ++i) {
    corpus.source.emplace_back((i * 7) % 40 + 1, static_cast<int32_t>(4 + i % 1000));
    corpus.target.emplace_back((i * 13) % 150 + 1, static_cast<int32_t>(4 + (i + 1) % 1000));
  }
  return corpus;
}

std::vector<std::vector<int32_t>> drain_epoch(Batcher& batcher, int64_t* pairs_seen = nullptr) {
  std::vector<std::vector<int32_t>> batches;
  Batch batch;
  while (batcher.next(batch)) {
    batches.push_back(batch.source.data);
    batches.back().insert(batches.back().end(), batch.target_out.data.begin(), batch.target_out.data.end());
    if (pairs_seen) *pairs_seen += batch.size();
  }
  return batches;
}

// Recovers which pair each row is from its [START] source row: all pairs have distinct
// (source length, first token) in synthetic_corpus(n) for n <= 1000.
std::vector<int64_t> pair_ids(const Batch& batch) {
  std::vector<int64_t> ids;
  const int64_t S = batch.source.shape[1];
  for (int64_t b = 0; b < batch.size(); ++b) ids.push_back(batch.source.data[b * S + 1] - 4);
  return ids;
}

std::unique_ptr<Batcher> make(int kind, const EncodedCorpus& corpus, uint64_t seed) {
  if (kind == 0) return std::make_unique<ShuffleBufferBatcher>(corpus, seed, ShuffleBufferOptions{64, 300});
  return std::make_unique<BucketBatcher>(corpus, seed, BucketOptions{1024, 128, 400});
}

}  // namespace

TEST_CASE("make_batch: [START] ids [END], cut to 128/129, target_in = target[:-1], labels = target[1:], pad 0") {
  EncodedCorpus corpus;
  corpus.source = {{10, 11, 12}, std::vector<int32_t>(200, 7)};
  corpus.target = {{20, 21}, std::vector<int32_t>(300, 8)};
  const Batch short_only = make_batch(corpus, {0}, {});
  CHECK(short_only.source.shape == Shape{1, 5});
  CHECK(short_only.source.data == std::vector<int32_t>{2, 10, 11, 12, 3});
  CHECK(short_only.target_in.data == std::vector<int32_t>{2, 20, 21});
  CHECK(short_only.target_out.data == std::vector<int32_t>{20, 21, 3});
  CHECK(short_only.num_target_tokens == 3);

  const Batch both = make_batch(corpus, {0, 1}, {});
  CHECK(both.source.shape == Shape{2, 128});
  CHECK(both.target_in.shape == Shape{2, 128});
  CHECK(both.target_out.shape == Shape{2, 128});
  CHECK(both.source.data[5] == 0);                         // row 0 padded
  CHECK(both.source.data[128 + 127] == 7);                 // row 1 cut: no [END] fits
  CHECK(both.target_in.data[128] == 2);
  CHECK(both.target_out.data[128 + 127] == 8);
  CHECK(both.num_target_tokens == 3 + 128);
  const PaddingCount padding = count_padding(both);
  CHECK(padding.slots == 4 * 128);
  CHECK(padding.pad == (128 - 5) + (128 - 3));
  CHECK_THROWS_AS(make_batch(corpus, {2}, {}), DataError);
}

TEST_CASE("one epoch of either batcher yields every pair exactly once; epochs differ") {
  const EncodedCorpus corpus = synthetic_corpus(1000);
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    auto batcher = make(kind, corpus, 11);
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<int> seen(corpus.size(), 0);
      const int64_t planned = batcher->batches_in_epoch();
      Batch batch;
      int64_t batches = 0;
      while (batcher->next(batch)) {
        for (int64_t id : pair_ids(batch)) ++seen[id];
        if (kind == 1) CHECK(batch.size() * std::max(batch.source.shape[1], batch.target_in.shape[1]) <= 1024);
        ++batches;
      }
      CHECK(batches == planned);
      CHECK(std::count(seen.begin(), seen.end(), 1) == corpus.size());
      CHECK(batcher->state().epoch == epoch + 1);
    }
  }
  // 1000 pairs in batches of 64: 16 batches (the last one partial, as tf.data's batch()).
  CHECK(make(0, corpus, 1)->batches_in_epoch() == 16);
  auto a = make(1, corpus, 5);
  auto b = make(1, corpus, 6);
  CHECK(drain_epoch(*a) != drain_epoch(*b));
  CHECK(drain_epoch(*a) != drain_epoch(*make(1, corpus, 5)));  // epoch 1 differs from epoch 0
}

TEST_CASE("restoring a saved state reproduces exactly the remaining batches (cereal binary and JSON)") {
  const EncodedCorpus corpus = synthetic_corpus(1000);
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    auto original = make(kind, corpus, 3);
    drain_epoch(*original);  // finish epoch 0
    Batch batch;
    for (int i = 0; i < 5; ++i) REQUIRE(original->next(batch));
    const BatcherState saved = original->state();
    CHECK(saved == BatcherState{3, 1, 5});

    std::stringstream binary;
    {
      cereal::BinaryOutputArchive archive(binary);
      archive(saved);
    }
    std::stringstream json;
    {
      cereal::JSONOutputArchive archive(json);
      archive(cereal::make_nvp("batcher", saved));
    }
    BatcherState from_binary, from_json;
    {
      cereal::BinaryInputArchive archive(binary);
      archive(from_binary);
    }
    {
      cereal::JSONInputArchive archive(json);
      archive(cereal::make_nvp("batcher", from_json));
    }
    CHECK(from_binary == saved);
    CHECK(from_json == saved);

    auto resumed = make(kind, corpus, 999);  // the state carries the seed
    resumed->restore(from_binary);
    CHECK(drain_epoch(*resumed) == drain_epoch(*original));
    CHECK(drain_epoch(*resumed) == drain_epoch(*original));  // and the epoch after
    CHECK_THROWS_AS(resumed->restore(BatcherState{3, 0, 10'000}), DataError);
  }
}

namespace {

// Padding fraction of one epoch of a reference (kind 0) or bucketed (kind 1) batcher.
double epoch_padding(const EncodedCorpus& corpus, int kind) {
  std::unique_ptr<Batcher> batcher;
  if (kind == 0)
    batcher = std::make_unique<ShuffleBufferBatcher>(corpus, 1);
  else
    batcher = std::make_unique<BucketBatcher>(corpus, 1);
  PaddingCount total;
  Batch batch;
  while (batcher->next(batch)) {
    const PaddingCount p = count_padding(batch);
    total.slots += p.slots;
    total.pad += p.pad;
  }
  return total.fraction();
}

}  // namespace

TEST_CASE("bucketed batches waste far less padding than the reference batcher") {
  // Corpus-like lengths: exponential, mean ~20, source and target correlated.
  Rng rng(1);
  EncodedCorpus corpus;
  for (int i = 0; i < 20000; ++i) {
    const int64_t length = 2 + static_cast<int64_t>(-18.0 * std::log(1.0 - rng.uniform()));
    corpus.source.emplace_back(std::max<int64_t>(1, length + static_cast<int64_t>(rng.below(7)) - 3), 5);
    corpus.target.emplace_back(std::max<int64_t>(1, length + static_cast<int64_t>(rng.below(7)) - 3), 6);
  }
  const double reference = epoch_padding(corpus, 0);
  const double bucketed = epoch_padding(corpus, 1);
  MESSAGE("synthetic lengths, padding: reference " << 100 * reference << "%, bucketed " << 100 * bucketed << "%");
  CHECK(bucketed <= 0.10);
  CHECK(reference > 0.5);
}

TEST_CASE("real corpus: bucketed batches waste <= 10% of slots on the train split") {
  const std::string dir = bcqnmt::test::real_corpus_dir();
  if (dir.empty()) {
    MESSAGE("real corpus absent (../shared/data/ted_hrlr_pt_to_en or BCQNMT_DATA): skipped");
    return;
  }
  const ParallelText train = load_split(dir, Split::kTrain);
  const EncodedCorpus corpus =
      encode_corpus(train, Vocabulary::learn(train.source), Vocabulary::learn(train.target));
  const double reference = epoch_padding(corpus, 0);
  const double bucketed = epoch_padding(corpus, 1);
  MESSAGE("TED train, padding: reference " << 100 * reference << "%, bucketed " << 100 * bucketed << "%");
  CHECK(bucketed <= 0.10);
  CHECK(ShuffleBufferBatcher(corpus, 0).batches_in_epoch() == 810);  // docs/reference.md §2
}

TEST_CASE("rank_shard: disjoint contiguous shards that cover the batch, balanced by tokens; empty when pairs < ranks") {
  const EncodedCorpus corpus = synthetic_corpus(1000);
  const BatchLimits limits;
  BucketBatcher batcher(corpus, /*seed=*/4);
  std::vector<int64_t> pairs;
  int batches = 0;
  while (batcher.next_pairs(pairs)) {
    ++batches;
    auto tokens = [&](int64_t p) {
      return source_row_length(corpus.source[p], limits) + target_row_length(corpus.target[p], limits);
    };
    int64_t total = 0, longest = 0;
    for (int64_t p : pairs) {
      total += tokens(p);
      longest = std::max(longest, tokens(p));
    }
    for (int ranks : {1, 2, 3, 8}) {
      std::vector<int64_t> joined;
      for (int rank = 0; rank < ranks; ++rank) {
        const std::vector<int64_t> shard = rank_shard(pairs, corpus, limits, rank, ranks);
        joined.insert(joined.end(), shard.begin(), shard.end());
        int64_t shard_tokens = 0;
        for (int64_t p : shard) shard_tokens += tokens(p);
        // Within one pair's tokens of an even split (each pair goes where its middle falls).
        CHECK(std::abs(static_cast<double>(shard_tokens) - static_cast<double>(total) / ranks) <= longest);
      }
      CHECK(joined == pairs);  // in order: disjoint, contiguous, and nothing lost
    }
  }
  CHECK(batches > 10);
  const std::vector<int64_t> one_pair = {7};
  const std::vector<int64_t> first = rank_shard(one_pair, corpus, limits, 0, 2);
  const std::vector<int64_t> second = rank_shard(one_pair, corpus, limits, 1, 2);
  CHECK(first.size() + second.size() == 1);  // one rank has the pair, the other nothing
  CHECK((first == one_pair || second == one_pair));
}

#include "data/batcher.h"

#include <algorithm>
#include <numeric>

#include "data/data_error.h"

namespace bcqnmt {

namespace {

void shuffle(std::vector<int64_t>& items, Rng& rng) {  // Fisher-Yates
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

}  // namespace

Batcher::Batcher(const EncodedCorpus& corpus, uint64_t seed, const BatchLimits& limits)
    : corpus_(corpus), limits_(limits) {
  if (corpus.source.size() != corpus.target.size())
    throw DataError("encoded corpus has " + std::to_string(corpus.source.size()) + " sources but " +
                    std::to_string(corpus.target.size()) + " targets");
  if (corpus.size() == 0) throw DataError("cannot batch an empty corpus");
  state_.seed = seed;
}

void Batcher::ensure_plan() {
  if (plan_epoch_ == state_.epoch) return;
  Rng rng(splitmix64(state_.seed ^ splitmix64(static_cast<uint64_t>(state_.epoch))));
  plan_ = plan_epoch(rng);
  plan_epoch_ = state_.epoch;
}

bool Batcher::next(Batch& batch) {
  std::vector<int64_t> pairs;
  if (!next_pairs(pairs)) return false;
  batch = make_batch(corpus_, pairs, limits_);
  return true;
}

bool Batcher::next_pairs(std::vector<int64_t>& pairs) {
  ensure_plan();
  if (state_.position >= static_cast<int64_t>(plan_.size())) {
    ++state_.epoch;
    state_.position = 0;
    return false;
  }
  pairs = plan_[state_.position++];
  return true;
}

int64_t Batcher::batches_in_epoch() {
  ensure_plan();
  return static_cast<int64_t>(plan_.size());
}

void Batcher::restore(const BatcherState& state) {
  if (state.epoch < 0 || state.position < 0)
    throw DataError("batcher state has a negative epoch or position");
  if (state.seed != state_.seed) plan_epoch_ = -1;
  state_ = state;
  if (state_.position > batches_in_epoch())
    throw DataError("batcher state position " + std::to_string(state.position) + " is past the " +
                    std::to_string(batches_in_epoch()) + " batches of epoch " + std::to_string(state.epoch) +
                    " (was it saved for another corpus or batch setting?)");
}

ShuffleBufferBatcher::ShuffleBufferBatcher(const EncodedCorpus& corpus, uint64_t seed,
                                           const ShuffleBufferOptions& options, const BatchLimits& limits)
    : Batcher(corpus, seed, limits), options_(options) {
  if (options.batch_size < 1 || options.buffer_size < 1)
    throw DataError("shuffle batcher needs batch_size >= 1 and buffer_size >= 1");
}

// tf.data's shuffle: a buffer filled from the input in order; each output is a uniformly
// chosen buffer slot, refilled with the next input element (or removed once the input
// is exhausted). Then batch(batch_size), keeping the last partial batch.
std::vector<std::vector<int64_t>> ShuffleBufferBatcher::plan_epoch(Rng& rng) const {
  const int64_t n = corpus_.size();
  std::vector<int64_t> buffer;
  int64_t next_input = 0;
  while (next_input < n && static_cast<int64_t>(buffer.size()) < options_.buffer_size) buffer.push_back(next_input++);
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> batch;
  while (!buffer.empty()) {
    const size_t slot = rng.below(buffer.size());
    batch.push_back(buffer[slot]);
    if (next_input < n) {
      buffer[slot] = next_input++;
    } else {
      buffer[slot] = buffer.back();
      buffer.pop_back();
    }
    if (static_cast<int64_t>(batch.size()) == options_.batch_size) batches.push_back(std::exchange(batch, {}));
  }
  if (!batch.empty()) batches.push_back(std::move(batch));
  return batches;
}

BucketBatcher::BucketBatcher(const EncodedCorpus& corpus, uint64_t seed, const BucketOptions& options,
                             const BatchLimits& limits)
    : Batcher(corpus, seed, limits), options_(options) {
  check_bucket_options(options, limits);
}

void check_bucket_options(const BucketOptions& options, const BatchLimits& limits) {
  if (options.max_pairs < 1 || options.window < 1)
    throw DataError("bucket batcher needs max_pairs >= 1 and window >= 1");
  if (options.token_budget < std::max(limits.max_source_tokens, limits.max_target_tokens))
    throw DataError("bucket batcher: token budget (the training config's \"token_budget\") " + std::to_string(options.token_budget) +
                    " is below the longest row allowed (" +
                    std::to_string(std::max(limits.max_source_tokens, limits.max_target_tokens)) + ")");
}

std::vector<std::vector<int64_t>> BucketBatcher::plan_epoch(Rng& rng) const {
  const int64_t n = corpus_.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  std::vector<std::vector<int64_t>> batches;
  for (int64_t begin = 0; begin < n; begin += options_.window) {
    const auto first = order.begin() + begin;
    const auto last = order.begin() + std::min(n, begin + options_.window);
    // Sorting by the padded width max(S, T) (what the budget counts), then by S + T, packs
    // pairs of similar length on both sides together: 8% padding on the TED train split,
    // against 17% when sorting by (T, S) and 74% for the reference batcher.
    std::stable_sort(first, last, [&](int64_t a, int64_t b) {
      const int64_t sa = source_row_length(corpus_.source[a], limits_);
      const int64_t sb = source_row_length(corpus_.source[b], limits_);
      const int64_t ta = target_row_length(corpus_.target[a], limits_) - 1;
      const int64_t tb = target_row_length(corpus_.target[b], limits_) - 1;
      if (std::max(sa, ta) != std::max(sb, tb)) return std::max(sa, ta) < std::max(sb, tb);
      return sa + ta < sb + tb;
    });
    std::vector<int64_t> batch;
    int64_t longest = 0;
    for (auto it = first; it != last; ++it) {
      const int64_t row = std::max(source_row_length(corpus_.source[*it], limits_),
                                   target_row_length(corpus_.target[*it], limits_) - 1);
      const int64_t wider = std::max(longest, row);
      if (!batch.empty() && (static_cast<int64_t>(batch.size() + 1) * wider > options_.token_budget ||
                             static_cast<int64_t>(batch.size()) == options_.max_pairs)) {
        batches.push_back(std::exchange(batch, {}));
        longest = 0;
      }
      batch.push_back(*it);
      longest = std::max(longest, row);
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
  }
  std::vector<int64_t> batch_order(batches.size());
  std::iota(batch_order.begin(), batch_order.end(), 0);
  shuffle(batch_order, rng);
  std::vector<std::vector<int64_t>> shuffled;
  shuffled.reserve(batches.size());
  for (int64_t b : batch_order) shuffled.push_back(std::move(batches[b]));
  return shuffled;
}

}  // namespace bcqnmt

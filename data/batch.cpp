#include "data/batch.h"

#include <algorithm>

#include "data/data_error.h"

namespace bcqnmt {

int64_t source_row_length(const std::vector<int32_t>& ids, const BatchLimits& limits) {
  return std::min<int64_t>(static_cast<int64_t>(ids.size()) + 2, limits.max_source_tokens);
}

int64_t target_row_length(const std::vector<int32_t>& ids, const BatchLimits& limits) {
  return std::min<int64_t>(static_cast<int64_t>(ids.size()) + 2, limits.max_target_tokens);
}

namespace {

// [START] ids [END], cut to `length` tokens.
void write_row(const std::vector<int32_t>& ids, int64_t length, int32_t* row) {
  row[0] = kStartId;
  for (int64_t j = 1; j < length; ++j)
    row[j] = j - 1 < static_cast<int64_t>(ids.size()) ? ids[j - 1] : kEndId;
}

}  // namespace

Batch make_batch(const EncodedCorpus& corpus, const std::vector<int64_t>& pairs, const BatchLimits& limits) {
  if (limits.max_source_tokens < 2 || limits.max_target_tokens < 2)
    throw DataError("batch limits must allow at least 2 tokens a side ([START] [END])");
  const int64_t B = static_cast<int64_t>(pairs.size());
  int64_t S = 0;
  int64_t T = 0;
  for (int64_t p : pairs) {
    if (p < 0 || p >= corpus.size())
      throw DataError("pair index " + std::to_string(p) + " is outside the corpus of " + std::to_string(corpus.size()));
    S = std::max(S, source_row_length(corpus.source[p], limits));
    T = std::max(T, target_row_length(corpus.target[p], limits) - 1);
  }
  Batch batch;
  batch.source = {{B, S}, std::vector<int32_t>(B * S, kPadId)};
  batch.target_in = {{B, T}, std::vector<int32_t>(B * T, kPadId)};
  batch.target_out = {{B, T}, std::vector<int32_t>(B * T, kPadId)};
  std::vector<int32_t> target(T + 1);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& src = corpus.source[pairs[b]];
    const std::vector<int32_t>& tgt = corpus.target[pairs[b]];
    write_row(src, source_row_length(src, limits), batch.source.data.data() + b * S);
    const int64_t length = target_row_length(tgt, limits);
    write_row(tgt, length, target.data());
    std::copy(target.begin(), target.begin() + length - 1, batch.target_in.data.begin() + b * T);
    std::copy(target.begin() + 1, target.begin() + length, batch.target_out.data.begin() + b * T);
    batch.num_target_tokens += length - 1;
  }
  return batch;
}

PaddingCount count_padding(const Batch& batch) {
  PaddingCount count;
  for (const IndexTensor* t : {&batch.source, &batch.target_in}) {
    count.slots += t->numel();
    count.pad += std::count(t->data.begin(), t->data.end(), kPadId);
  }
  return count;
}

}  // namespace bcqnmt

#pragma once
// One training batch, laid out as the reference (the TensorFlow Transformer tutorial's
// prepare_batch): each side is [START] ids [END], the source cut to 128 tokens and the
// target to 129; decoder input = target[:-1], labels = target[1:]; padded with 0 to the
// longest row of the batch.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "data/encoded_corpus.h"

namespace bcqnmt {

struct BatchLimits {
  int64_t max_source_tokens = 128;  // including [START] and [END]
  int64_t max_target_tokens = 129;  // including [START] and [END]; T = this - 1 at most
};

struct Batch {
  IndexTensor source;          // [B, S]
  IndexTensor target_in;       // [B, T]
  IndexTensor target_out;      // [B, T]
  int64_t num_target_tokens = 0;  // non-pad entries of target_out
  int64_t size() const { return source.shape.empty() ? 0 : source.shape[0]; }
};

// Row lengths after adding [START]/[END] and cutting: S of the source, T + 1 of the target.
int64_t source_row_length(const std::vector<int32_t>& ids, const BatchLimits& limits);
int64_t target_row_length(const std::vector<int32_t>& ids, const BatchLimits& limits);

Batch make_batch(const EncodedCorpus& corpus, const std::vector<int64_t>& pairs, const BatchLimits& limits);

struct PaddingCount {
  int64_t slots = 0;  // B*S + B*T
  int64_t pad = 0;    // of which padding
  double fraction() const { return slots == 0 ? 0.0 : static_cast<double>(pad) / static_cast<double>(slots); }
};
PaddingCount count_padding(const Batch& batch);  // over source and target_in

}  // namespace bcqnmt

#include "nn/attention_block.h"

namespace bcqnmt {

AttentionBlock::AttentionBlock(const ModelConfig& c, Rng& rng)
    : mha_(c, rng), norm_(make_normalization(c)) {
  register_module("mha", mha_);
  register_module(norm_names().name(c.norm), *norm_);
}

Variable AttentionBlock::forward(const Variable& x, const Variable& context, const AttentionMask& mask) const {
  return norm_->forward(add(x, mha_.forward(x, context, mask)));
}

Variable AttentionBlock::forward_cached(const Variable& x, const Variable& context, const AttentionMask& mask,
                                        KvCache& cache, bool grow) const {
  return norm_->forward(add(x, mha_.forward_cached(x, context, mask, cache, grow)));
}

}  // namespace bcqnmt

#pragma once
// Sentence pairs as token ids, without [START]/[END] (the batchers add them).
#include <cstdint>
#include <vector>

#include "data/corpus.h"
#include "data/vocabulary.h"

namespace bcqnmt {

struct EncodedCorpus {
  std::vector<std::vector<int32_t>> source;  // pt
  std::vector<std::vector<int32_t>> target;  // en, same size as source
  int64_t size() const { return static_cast<int64_t>(source.size()); }
};

EncodedCorpus encode_corpus(const ParallelText& text, const Vocabulary& source_vocab, const Vocabulary& target_vocab);

}  // namespace bcqnmt

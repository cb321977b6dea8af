#include "data/encoded_corpus.h"

namespace bcqnmt {

EncodedCorpus encode_corpus(const ParallelText& text, const Vocabulary& source_vocab, const Vocabulary& target_vocab) {
  EncodedCorpus corpus;
  corpus.source.resize(text.source.size());
  corpus.target.resize(text.target.size());
  std::vector<std::string> words;
  for (size_t i = 0; i < text.source.size(); ++i) {
    source_vocab.encode(text.source[i], corpus.source[i], words);
    target_vocab.encode(text.target[i], corpus.target[i], words);
  }
  return corpus;
}

}  // namespace bcqnmt

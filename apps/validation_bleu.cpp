#include "apps/validation_bleu.h"

#include <memory>

#include "apps/translator.h"
#include "data/bleu.h"

namespace bcqnmt {

BleuScorer validation_bleu_scorer(const Experiment& e, const std::string& data_dir) {
  const int64_t pairs = e.training.validation_bleu_pairs;
  if (pairs == 0) return {};
  struct Subset {
    ParallelText text;
    Vocabulary source_vocab, target_vocab;
    int max_tokens;
  };
  auto subset = std::make_shared<Subset>(Subset{load_split(data_dir, Split::kValidation), e.source_vocab,
                                                e.target_vocab, e.training.max_tokens});
  if (subset->text.size() > pairs) {
    subset->text.source.resize(pairs);
    subset->text.target.resize(pairs);
  }
  return [subset](const Transformer& model) {
    const Translator translator(model, subset->source_vocab, subset->target_vocab, subset->max_tokens);
    return nltk_corpus_bleu(subset->text.target, translator.translate(subset->text.source, DecodeOptions{}));
  };
}

}  // namespace bcqnmt

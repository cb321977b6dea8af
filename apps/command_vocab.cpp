// bcqnmt vocab: learn both WordPiece vocabularies from the training split.
#include <chrono>
#include <ostream>

#include "apps/commands.h"
#include "apps/run_directory.h"
#include "data/corpus.h"
#include "data/vocabulary.h"

namespace bcqnmt {

int run_vocab(const VocabOptions& o, std::ostream& out) {
  const RunDirectory run{o.run};
  if (std::filesystem::exists(run.source_vocab()) && std::filesystem::exists(run.target_vocab())) {
    out << "vocab: " << run.source_vocab().string() << " and " << run.target_vocab().string()
        << " already exist; keeping them (delete them to learn again)\n";
    return 0;
  }
  const std::string data_dir = resolve_data_dir(o.data);
  ParallelText train = load_split(data_dir, Split::kTrain);
  if (o.limit > 0 && train.size() > o.limit) {
    train.source.resize(o.limit);
    train.target.resize(o.limit);
  }
  std::filesystem::create_directories(run.root);
  WordpieceLearnerOptions options;
  options.vocab_size = o.size;
  const auto start = std::chrono::steady_clock::now();
  const Vocabulary pt = Vocabulary::learn(train.source, options);
  const Vocabulary en = Vocabulary::learn(train.target, options);
  pt.save(run.source_vocab().string());
  en.save(run.target_vocab().string());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "vocab: learned from " << train.size() << " training pairs in " << seconds << " s: pt " << pt.size()
      << " tokens -> " << run.source_vocab().string() << ", en " << en.size() << " tokens -> "
      << run.target_vocab().string() << "\n";
  return 0;
}

}  // namespace bcqnmt

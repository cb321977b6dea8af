// bcqnmt vocab: learn both WordPiece vocabularies from the training split.
#include <chrono>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/run_lock.h"
#include "apps/command_line.h"
#include "apps/corpus_split.h"
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
  ParallelText train = load_split_noting_drops(data_dir, Split::kTrain);
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

Subcommand add_vocab_command(CLI::App& app) {
  auto o = std::make_shared<VocabOptions>();
  CLI::App* c = app.add_subcommand("vocab", "Learn the pt and en WordPiece vocabularies into the run directory");
  add_data_flag(c, o->data);
  add_run_flag(c, o->run);
  c->add_option("--size", o->size, "Target vocabulary size")->capture_default_str()->check(CLI::Range(16, 1000000));
  c->add_option("--limit", o->limit, "Learn from the first N training pairs only (0: all)")->check(kNonNegativeCount);
  return {c, [o] {
            const RunLock lock(o->run, "vocab");
            return run_vocab(*o, std::cout);
          }};
}

}  // namespace bcqnmt

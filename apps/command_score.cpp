// bcqnmt score: BLEU of a hypothesis file against a reference file, one sentence per line,
// as `sacrebleu REF < HYP` does: nltk-compatible corpus BLEU (the reference protocol's
// number) and sacreBLEU-style 13a BLEU with its breakdown and signature (data/bleu.h).
#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/command_files.h"
#include "data/bleu.h"

namespace bcqnmt {

namespace {

// `path`'s lines ("" or "-": standard input), without a trailing CR.
std::vector<std::string> read_lines(const std::string& path, std::istream& standard_input) {
  TextInput input(path, standard_input);
  std::vector<std::string> lines;
  for (std::string line; std::getline(input.stream(), line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  input.check_read_to_end();
  return lines;
}

}  // namespace

int run_score(const ScoreOptions& o, std::istream& in, std::ostream& out) {
  if (names_standard_stream(o.reference) && names_standard_stream(o.hypothesis))
    throw UsageError("--ref and --hyp cannot both be standard input");
  const std::vector<std::string> references = read_lines(o.reference, in);
  const std::vector<std::string> hypotheses = read_lines(o.hypothesis, in);
  if (references.size() != hypotheses.size())
    throw AppError("the hypotheses have " + std::to_string(hypotheses.size()) + " lines and the references (" +
                   o.reference + ") " + std::to_string(references.size()) + "; BLEU pairs them line by line");
  const double nltk = nltk_corpus_bleu(references, hypotheses);
  const SacreBleuScore s = sacrebleu_corpus_bleu(references, hypotheses);
  out << std::fixed << std::setprecision(4) << "BLEU (nltk corpus_bleu, 0..1): " << nltk << "\n"
      << std::setprecision(2) << "sacreBLEU-style: " << s.score << " " << s.precisions[0] << "/" << s.precisions[1]
      << "/" << s.precisions[2] << "/" << s.precisions[3] << " (BP = " << std::setprecision(3) << s.brevity_penalty
      << " ratio = " << (s.reference_length ? static_cast<double>(s.hypothesis_length) / s.reference_length : 0.0)
      << " hyp_len = " << s.hypothesis_length << " ref_len = " << s.reference_length << ")\n"
      << "signature: " << s.signature << "\n";
  out.unsetf(std::ios::fixed);
  return 0;
}

Subcommand add_score_command(CLI::App& app) {
  auto o = std::make_shared<ScoreOptions>();
  CLI::App* c = app.add_subcommand(
      "score", "BLEU of translations (stdin or --hyp) against references (--ref), one sentence per line: nltk "
               "corpus_bleu and sacreBLEU-style 13a with its n-gram precisions, brevity penalty and lengths");
  c->add_option("--ref", o->reference, "Reference file (\"-\": standard input)")->required();
  c->add_option("--hyp", o->hypothesis, "Hypothesis file (default or \"-\": standard input)");
  return {c, [o] { return run_score(*o, std::cin, std::cout); }};
}

}  // namespace bcqnmt

// bcqnmt evaluate: translate a split, write output/ref files, report BLEU.
#include <cctype>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/command_files.h"
#include "apps/command_line.h"
#include "apps/corpus_split.h"
#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/translator.h"
#include "core/atomic_file.h"
#include "apps/interrupt.h"
#include "data/bleu.h"

namespace bcqnmt {

EvaluationSummary evaluate_run(const EvaluateOptions& o, std::ostream& out) {
  if (!o.output.empty()) check_output_location("--output", o.output);  // before decoding, not after
  Experiment e = open_experiment(o.run, "");
  auto model = load_run_model(e, o.model);
  ParallelText text = load_split_noting_drops(resolve_data_dir(o.data), split_from_name(o.split));
  const bool limited = o.limit > 0 && text.size() > o.limit;  // a limit past the split's end is the whole split
  if (limited) {
    text.source.resize(o.limit);
    text.target.resize(o.limit);
  }
  const Translator translator(*model, e.source_vocab, e.target_vocab, e.training.max_tokens);
  DecodeOptions decode;
  decode.beam_size = o.beam;
  decode.before_step = stop_if_interrupted;  // pipeline catches signals; a decoding step is the place to stop
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> outputs = translator.translate(text.source, decode);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (int i = 0; i < std::min<int64_t>(o.samples, text.size()); ++i)
    out << "PT: " << text.source[i] << "\nEN: " << text.target[i] << "\nOUT: " << outputs[i] << "\n";
  auto join = [](const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  };
  // Named by everything that changes them, so evaluations of other models, splits, beams
  // or limits never overwrite each other.
  const std::string limit_tag = limited ? ".first" + std::to_string(o.limit) : "";
  const auto output_path = e.run.eval_dir() / (o.model + "." + o.split + ".beam" + std::to_string(o.beam) + limit_tag + ".txt");
  const auto ref_path = e.run.eval_dir() / ("ref." + o.split + limit_tag + ".txt");
  std::filesystem::create_directories(e.run.eval_dir());
  write_file_atomically(output_path, join(outputs));
  write_file_atomically(ref_path, join(text.target));
  if (!o.output.empty()) write_file_atomically(o.output, join(outputs));
  // "Test BLEU: ..." is the reference's own line; other splits say which they are.
  std::string split_title = o.split;
  split_title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(split_title[0])));
  out << split_title << " translations and references are written to " << output_path.string() << " and "
      << ref_path.string() << "\n";
  const double bleu = nltk_corpus_bleu(text.target, outputs);
  const SacreBleuScore sacre = sacrebleu_corpus_bleu(text.target, outputs);
  out << std::setprecision(16) << split_title << " BLEU: " << bleu << "\n" << std::setprecision(4) << std::fixed
      << "BLEU (nltk corpus_bleu, " << o.split << ", " << text.size() << " pairs, "
      << (o.beam == 1 ? std::string("greedy") : "beam " + std::to_string(o.beam)) << ", model " << o.model
      << "): " << bleu << "\n"
      << "sacreBLEU-style: " << sacre.score << " (" << sacre.signature << ")\n"
      << "decoding: " << seconds << " s, " << 1000.0 * seconds / std::max<int64_t>(1, text.size()) << " ms/sentence\n";
  out.unsetf(std::ios::fixed);
  e.run.append_metrics({{"phase", "evaluate"},
                        {"model", o.model},
                        {"split", o.split},
                        {"pairs", text.size()},
                        {"limit", o.limit},
                        {"beam", o.beam},
                        {"bleu_nltk", bleu},
                        {"sacrebleu", sacre.score},
                        {"decode_seconds", seconds}});
  return {bleu, sacre.score, seconds, text.size()};
}

int run_evaluate(const EvaluateOptions& o, std::ostream& out) {
  evaluate_run(o, out);
  return 0;
}

Subcommand add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* c = app.add_subcommand("evaluate", "Translate a split and report BLEU (nltk-compatible and sacreBLEU-style 13a)");
  add_run_flag(c, o->run);
  add_data_flag(c, o->data);
  add_model_flag(c, o->model);
  c->add_option("--split", o->split, "test, validation or train")->capture_default_str()
      ->check(CLI::IsMember({"test", "validation", "train"}));
  c->add_option("--limit", o->limit, "Only the first N pairs (0: all)")->check(kNonNegativeCount);
  c->add_option("--beam", o->beam, "Beam size (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));
  c->add_option("--output", o->output, "Also write the translations to this file (atomically)");
  c->add_option("--samples", o->samples, "PT/EN/OUT examples to print")->capture_default_str()
      ->check(kNonNegativeCount);
  return {c, [o] { return run_evaluate(*o, std::cout); }};
}

}  // namespace bcqnmt

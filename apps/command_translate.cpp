// bcqnmt translate: Portuguese lines on stdin, English on stdout, one for one.
#include <iostream>
#include <istream>
#include <memory>
#include <ostream>

#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/translator.h"

namespace bcqnmt {

int run_translate(const TranslateOptions& o, std::istream& in, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");
  auto model = load_run_model(e, o.model);
  const Translator translator(*model, e.source_vocab, e.target_vocab, e.training.max_tokens);
  DecodeOptions decode;
  decode.beam_size = o.beam;
  // Line by line, so an interactive user gets each answer at once.
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out << translator.translate({line}, decode).front() << "\n" << std::flush;
  }
  return 0;
}

Subcommand add_translate_command(CLI::App& app) {
  auto o = std::make_shared<TranslateOptions>();
  CLI::App* c = app.add_subcommand("translate", "Translate Portuguese lines from stdin to English on stdout");
  add_run_flag(c, o->run);
  add_model_flag(c, o->model);
  c->add_option("--beam", o->beam, "Beam size (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));
  return {c, [o] { return run_translate(*o, std::cin, std::cout); }};
}

}  // namespace bcqnmt

// bcqnmt translate: Portuguese lines on stdin, English on stdout, one for one.
#include <istream>
#include <ostream>

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

}  // namespace bcqnmt

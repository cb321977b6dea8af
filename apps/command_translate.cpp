// bcqnmt translate: Portuguese lines in, English lines out, one for one.
//   A file (--input) or piped input is read whole and decoded in length-sorted batches;
//   a terminal is answered line by line (unless --output is given). --output is written
//   atomically at the end.
//   An empty or blank line gives an empty line (no invented translation). Ill-formed UTF-8
//   is replaced by U+FFFD and a line longer than the model's input is cut, each with one
//   warning on stderr naming the line. A summary goes to stderr unless --quiet.
//   --n-best and --scores add the decoder's scores (nn/decoding.h). --format picks readable
//   English (the default) or the corpus's tokenized form; the summary counts tokens.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <istream>
#include <memory>
#include <ostream>
#include <sstream>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/command_files.h"
#include "apps/translator.h"
#include "core/atomic_file.h"
#include "data/readable_english.h"
#include "data/utf8.h"

namespace bcqnmt {

namespace {

// Repairs and checks one input line (1-based `number`), warning on `err`.
std::string prepared(std::string line, int64_t number, const Translator& translator, std::ostream& err) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (const int64_t replaced = replace_invalid_utf8(line))
    err << kWarningLine << "line " << number << ": " << replaced << " ill-formed UTF-8 sequence"
        << (replaced == 1 ? "" : "s") << " replaced by U+FFFD\n";
  if (const std::string cut = translator.truncation_warning(line); !cut.empty())
    err << kWarningLine << "line " << number << ": " << cut << "\n";
  return line;
}

// The output line(s) of input line `index` (0-based): the text; with --scores
// "text ||| score"; with --n-best N, N lines "index ||| text ||| score" as Moses and Marian
// write them. A blank input line has no hypotheses and gives an empty text.
std::string format(const std::vector<ScoredText>& hypotheses, int64_t index, const TranslateOptions& o) {
  std::vector<ScoredText> shown = hypotheses.empty() ? std::vector<ScoredText>(1) : hypotheses;
  if (o.format == OutputFormat::readable)
    for (ScoredText& h : shown) h.text = readable_english(h.text);
  std::ostringstream line;
  line << std::fixed << std::setprecision(4);
  if (o.n_best > 1) {
    for (const ScoredText& h : shown) line << index << " ||| " << h.text << " ||| " << h.score << "\n";
    return line.str();
  }
  line << shown.front().text;
  if (o.scores) line << " ||| " << shown.front().score;
  line << "\n";
  return line.str();
}

DecodeOptions decode_options(const TranslateOptions& o) {
  if (o.n_best > o.beam)
    throw UsageError("--n-best " + std::to_string(o.n_best) + " needs --beam " + std::to_string(o.n_best) + " or more");
  DecodeOptions decode;
  decode.beam_size = o.beam;
  decode.length_alpha = static_cast<float>(o.length_penalty);
  decode.max_length = o.max_length;
  decode.max_length_factor = o.max_length_factor;
  decode.n_best = o.n_best;
  return decode;
}

// Sentences and output tokens (of the tokenized 1-best) for the summary line.
struct TranslationCounts {
  int64_t sentences = 0, tokens = 0;
  void add(const std::vector<ScoredText>& hypotheses) {
    ++sentences;
    if (hypotheses.empty() || hypotheses.front().text.empty()) return;
    const std::string& best = hypotheses.front().text;
    tokens += 1 + std::count(best.begin(), best.end(), ' ');
  }
};

// A terminal: each line is answered as soon as it is read.
void translate_interactively(const Translator& translator, const DecodeOptions& decode, const TranslateOptions& o,
                             TextInput& input, std::ostream& out, std::ostream& err, TranslationCounts& counts) {
  int64_t number = 0;
  for (std::string line; std::getline(input.stream(), line);) {
    line = prepared(std::move(line), ++number, translator, err);
    const std::vector<ScoredText> hypotheses = translator.translate_n_best({line}, decode).front();
    counts.add(hypotheses);
    out << format(hypotheses, number - 1, o) << std::flush;
  }
  input.check_read_to_end();
}

// A file or a pipe: every line decoded in one call (length-sorted batches, in Translator),
// written in the input's order; blank lines give blank lines.
void translate_all(const Translator& translator, const DecodeOptions& decode, const TranslateOptions& o,
                   TextInput& input, std::ostream& out, std::ostream& err, TranslationCounts& counts) {
  std::vector<std::string> lines;
  for (std::string line; std::getline(input.stream(), line);)
    lines.push_back(prepared(std::move(line), static_cast<int64_t>(lines.size()) + 1, translator, err));
  input.check_read_to_end();
  const std::vector<std::vector<ScoredText>> translated = translator.translate_n_best(lines, decode);
  std::string result;
  for (size_t i = 0; i < lines.size(); ++i) {
    counts.add(translated[i]);
    result += format(translated[i], static_cast<int64_t>(i), o);
  }
  if (names_standard_stream(o.output))
    out << result << std::flush;
  else
    write_file_atomically(o.output, result);
}

}  // namespace

int run_translate(const TranslateOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  auto [e, model, description] = load_model(o.run, o.bundle, o.model);
  const Translator translator(*model, e.source_vocab, e.target_vocab, e.training.max_tokens);
  const DecodeOptions decode = decode_options(o);
  if (!names_standard_stream(o.output)) check_output_location("--output", o.output);  // before decoding, not after
  TextInput input(o.input, in);
  const bool interactive = names_standard_stream(o.input) && names_standard_stream(o.output) && &in == &std::cin &&
                           isatty(STDIN_FILENO);
  const auto start = std::chrono::steady_clock::now();
  TranslationCounts counts;
  if (interactive) translate_interactively(translator, decode, o, input, out, err, counts);
  else translate_all(translator, decode, o, input, out, err, counts);
  if (!o.quiet) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    err << std::fixed << std::setprecision(1) << "translate: " << counts.sentences
        << (counts.sentences == 1 ? " sentence, " : " sentences, ") << counts.tokens
        << (counts.tokens == 1 ? " output token in " : " output tokens in ") << seconds << " s ("
        << (seconds > 0 ? counts.tokens / seconds : 0.0) << " tokens/s, "
        << (counts.sentences ? 1000.0 * seconds / static_cast<double>(counts.sentences) : 0.0)
        << " ms/sentence)\n";
  }
  return 0;
}

Subcommand add_translate_command(CLI::App& app) {
  auto o = std::make_shared<TranslateOptions>();
  CLI::App* c = app.add_subcommand(
      "translate", "Translate Portuguese to English, one line per sentence");
  add_model_source_flags(c, o->run, o->bundle, o->model);
  c->add_option("--format", o->format,
                "readable: English as a reader writes it (it's, don't, \"quoted\", capitalised sentences); "
                "tokenized: lower-cased and Moses-tokenized like the corpus and the BLEU references")
      ->transform(CLI::CheckedTransformer(name_map(output_format_names())))
      ->default_str(output_format_names().name(OutputFormat::readable));
  c->add_option("-i,--input", o->input, "Input file (default or \"-\": standard input)");
  c->add_option("-o,--output", o->output, "Output file, written atomically (default or \"-\": standard output)");
  c->add_option("--beam", o->beam, "Beam size (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));
  c->add_option("--length-penalty", o->length_penalty,
                "Beam search: GNMT length penalty alpha, score / ((5 + length) / 6)^alpha (Wu et al. 2016)")
      ->capture_default_str()
      ->check(number_between(0.0, 5.0));
  c->add_option("--max-length", o->max_length, "Most output tokens per sentence")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  c->add_option("--max-length-factor", o->max_length_factor,
                "Also at most this many output tokens per source wordpiece (of the source as the model reads "
                "it), rounded up; at the limit [END] is forced (as Marian's factor; 0: --max-length only)")
      ->capture_default_str()
      ->check(number_between(0.0, 1024.0));
  c->add_option("--n-best", o->n_best,
                "Write the N best translations of each sentence as \"index ||| translation ||| score\" lines (needs "
                "--beam N or more; a blank input line gives one line with an empty translation)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  c->add_flag("--scores", o->scores, "Append \" ||| score\" to each translation (the decoder's ranking score)");
  c->add_flag("-q,--quiet", o->quiet, "No summary on standard error");
  return {c, [o] { return run_translate(*o, std::cin, std::cout, std::cerr); }};
}

}  // namespace bcqnmt

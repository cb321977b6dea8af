// bcqnmt translate as people use it: files in and out, batched decoding that keeps the
// input order, empty lines kept empty, and one warning line for what had to be changed.
#include <doctest/doctest.h>

#include <sstream>

#include "data/readable_english.h"
#include "tiny_run.h"

using namespace bcqnmt::test;

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST_CASE("translate: --input/--output, batches in input order, empty lines, warnings") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)");
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  const std::string run = " --run " + t.run.string();

  std::string long_line;
  for (int i = 0; i < 200; ++i) long_line += "kalo ";
  const std::string input = "kalo mine .\n\n   \nsuta ri\xff po .\n" + long_line + ".\nkalo mine .\n";
  write_text(dir.path / "in.txt", input);
  const CommandResult r =
      run_bcqnmt_ok("translate" + run + " -i " + (dir.path / "in.txt").string() + " -o " + (dir.path / "out.txt").string());
  CHECK(r.out.empty());
  const auto out = lines_of(slurp(dir.path / "out.txt"));
  REQUIRE(out.size() == 6);
  CHECK(!out[0].empty());
  CHECK(out[1].empty());  // an empty line stays empty
  CHECK(out[2].empty());  // so does a blank one
  CHECK(out[5] == out[0]);  // the same sentence gives the same translation wherever it sits in the batch
  // One warning per changed line, naming it; then the summary.
  CHECK(r.err.find("bcqnmt: warning: line 4: 1 ill-formed UTF-8 sequence replaced by U+FFFD") != std::string::npos);
  CHECK(r.err.find("warning: line 5: ") != std::string::npos);
  CHECK(r.err.find("cut to the model's 126") != std::string::npos);
  CHECK(r.err.find("translate: 6 sentences") != std::string::npos);

  // Piped input gives the same lines on stdout; --quiet drops the summary.
  const CommandResult piped = run_bcqnmt_ok("translate --quiet" + run, input);
  CHECK(lines_of(piped.out) == out);
  CHECK(piped.err.find("translate:") == std::string::npos);
  // Readable English by default: --format tokenized prints the corpus's form, of which the
  // default output is the readable form.
  const auto tokenized = lines_of(run_bcqnmt_ok("translate --quiet --format tokenized" + run, input).out);
  REQUIRE(tokenized.size() == out.size());
  for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == bcqnmt::readable_english(tokenized[i]));
  CHECK(run_bcqnmt("translate --format pretty" + run, "a\n").status == 2);
  // Decoding settings reach the decoder: one output token at most.
  const auto short_out = lines_of(run_bcqnmt_ok("translate --max-length 1 --quiet" + run, "kalo mine .\n").out);
  REQUIRE(short_out.size() == 1);
  CHECK(short_out[0].find(' ') == std::string::npos);
  CHECK(run_bcqnmt("translate --length-penalty -1" + run, "a\n").status == 2);
  // ... and the limit relative to the source: ceil(0.2 x at most 5 wordpieces) = 1 token.
  const auto relative =
      lines_of(run_bcqnmt_ok("translate --max-length-factor 0.2 --format tokenized --quiet" + run, "kalo mine .\n").out);
  REQUIRE(relative.size() == 1);
  CHECK(relative[0].find(' ') == std::string::npos);
  CHECK(run_bcqnmt("translate --max-length-factor -1" + run, "a\n").status == 2);
  CHECK(run_bcqnmt("translate --max-length-factor nan" + run, "a\n").status == 2);

  // n-best: "index ||| translation ||| score", N per input line, best first; --scores on 1-best.
  const auto n_best = lines_of(run_bcqnmt_ok("translate --quiet --beam 3 --n-best 2" + run, "kalo mine .\n\nsuta .\n").out);
  REQUIRE(n_best.size() == 5);  // 2 + the blank line's one empty entry + 2
  CHECK(n_best[0].rfind("0 ||| ", 0) == 0);
  CHECK(n_best[1].rfind("0 ||| ", 0) == 0);
  CHECK(n_best[2] == "1 |||  ||| 0.0000");
  CHECK(n_best[3].rfind("2 ||| ", 0) == 0);
  auto score_of = [](const std::string& line) { return std::stod(line.substr(line.rfind("||| ") + 4)); };
  CHECK(score_of(n_best[0]) >= score_of(n_best[1]));
  const auto scored = lines_of(run_bcqnmt_ok("translate --quiet --scores" + run, "kalo mine .\n").out);
  REQUIRE(scored.size() == 1);
  CHECK(scored[0].rfind(out[0] + " ||| -", 0) == 0);  // greedy: the same text, a log-probability
  const CommandResult too_many = run_bcqnmt("translate --beam 2 --n-best 3" + run, "a\n");
  CHECK(too_many.status == 2);
  CHECK(too_many.err.find("--beam 3") != std::string::npos);
}

TEST_CASE("translate and score: \"-\" is a standard stream, a directory is no input, a failed stdout is an error") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)");
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  const std::string run = " --run " + t.run.string() + " --quiet";
  const std::string once = run_bcqnmt_ok("translate" + run, "kalo mine .\n").out;
  CHECK(run_bcqnmt_ok("translate -i - -o -" + run, "kalo mine .\n").out == once);
  CHECK_FALSE(std::filesystem::exists("-"));
  // A line of control characters only (NUL, BEL) has nothing to translate, like a blank one.
  CHECK(run_bcqnmt_ok("translate" + run, std::string("\0\a\n", 3)).out == "\n");

  // A directory read as a file used to give "0 sentences" and exit 0.
  const CommandResult from_dir = run_bcqnmt("translate -i " + dir.path.string() + run);
  CHECK(from_dir.status == 1);
  CHECK(from_dir.err == "bcqnmt: error: cannot read " + dir.path.string() + ": it is a directory\n");
  // run_command redirects the shell's streams; the inner redirection is the binary's own.
  auto in_shell = [](const std::string& line) { return run_command("sh -c '" + line + "'"); };
  const CommandResult stdin_dir = in_shell(std::string(BCQNMT_BINARY) + " translate" + run + " < " + dir.path.string());
  CHECK(stdin_dir.status == 1);
  CHECK(stdin_dir.err.find("cannot read standard input") != std::string::npos);
  write_text(dir.path / "ref.txt", "a b c d\n");
  CHECK(run_bcqnmt("score --ref " + dir.path.string() + " --hyp " + (dir.path / "ref.txt").string()).status == 1);
  CHECK(run_bcqnmt_ok("score --ref - --hyp " + (dir.path / "ref.txt").string(), "a b c d\n").out.find("BLEU") !=
        std::string::npos);
  CHECK(run_bcqnmt("score --ref - --hyp -").status == 2);

  // Translations that cannot reach stdout (a full disk) are a failure, not exit 0.
  const CommandResult full =
      in_shell(std::string(BCQNMT_BINARY) + " translate" + run + " < " + (dir.path / "ref.txt").string() + " > /dev/full");
  CHECK(full.status == 1);
  CHECK(full.err.find("bcqnmt: error: cannot write to standard output") == 0);
  // A NaN length penalty passed CLI11's range check and scored every hypothesis NaN.
  CHECK(run_bcqnmt("translate --beam 2 --length-penalty nan" + run, "a\n").status == 2);
  // An output location that cannot be written fails before decoding.
  const CommandResult nowhere = run_bcqnmt("translate -o " + (dir.path / "no" / "x.txt").string() + run, "a\n");
  CHECK(nowhere.status == 1);
  CHECK(nowhere.err.find("does not exist") != std::string::npos);
}

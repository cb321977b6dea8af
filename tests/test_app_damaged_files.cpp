// Every file bcqnmt reads, damaged, through the real binary: each JSON file (config,
// manifests, settings, metrics.jsonl, bundle.json, sensitivity.json, a --bits-config),
// the vocabularies, a checkpoint and a .bcq, truncated, replaced by a directory, and -- for
// JSON -- every value given the wrong type or a huge number, nesting 200,000 deep and 1e400.
// Each case must run, or fail with exit status 1 and one line on stderr that names the file,
// with no library text ("[json.exception...]", "std::bad_alloc", "basic_filebuf::underflow")
// and no crash. The counts are printed (ctest -V). The in-process fuzzers of the binary formats are
// tests/test_fuzz_inputs.cpp.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/random.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;
namespace fs = std::filesystem;

namespace {

struct Tally {
  int tried = 0, ran = 0, clean_errors = 0, library_texts = 0, unclear = 0, crashes = 0;
};

// One damaged file (already in place), read by `command`.
void run_case(Tally& tally, const std::string& command, const fs::path& file, const std::string& what,
              const std::string& stdin_text) {
  ++tally.tried;
  const CommandResult r = run_bcqnmt(command, stdin_text);
  INFO(what << ": bcqnmt " << command << "\nstatus " << r.status << "\n" << r.err);
  if (r.status == 0) {
    ++tally.ran;
    return;
  }
  if (r.status != 1) {
    ++tally.crashes;
    FAIL_CHECK("not exit status 0 or 1");
    return;
  }
  const bool library = r.err.find("json.exception") != std::string::npos || r.err.find("bad_alloc") != std::string::npos ||
                       r.err.find("basic_filebuf") != std::string::npos || r.err.find("std::") != std::string::npos;
  const bool one_line = r.err.starts_with("bcqnmt: error: ") && r.err.find('\n') == r.err.size() - 1;
  const bool names_file = r.err.find(file.string()) != std::string::npos;
  if (library) {
    ++tally.library_texts;
    FAIL_CHECK("library text in the message");
  } else if (!one_line || !names_file) {
    ++tally.unclear;
    FAIL_CHECK("not one line naming " << file.string());
  } else {
    ++tally.clean_errors;
  }
}

// Values of another type, or sizes no file should hold, for a JSON value like `v`.
std::vector<nlohmann::json> hostile_values(const nlohmann::json& v) {
  std::vector<nlohmann::json> out{nullptr, nlohmann::json::array({1}), nlohmann::json::object()};
  if (v.is_number()) {
    out.push_back("x");
    out.push_back(1e300);
    out.push_back(-1);
    out.push_back(std::numeric_limits<uint64_t>::max());
  } else {
    out.push_back(7);
  }
  return out;
}

struct Target {
  fs::path file;
  std::string command;
  std::string stdin_text;
};

// Truncations, a directory in its place, and (JSON) every leaf with hostile values; the
// file is restored after each case. `lines`: JSON lines (metrics.jsonl), damaged one line at a time.
void damage(Tally& tally, const Target& t, bool json, bool lines, Rng& rng) {
  const std::string original = slurp(t.file);
  const auto restore = [&] {
    fs::remove_all(t.file);
    write_text(t.file, original);
  };
  for (size_t cut : {size_t{0}, size_t{1}, original.size() / 3, original.size() / 2, original.size() - 2}) {
    write_text(t.file, original.substr(0, std::min(cut, original.size())));
    run_case(tally, t.command, t.file, "truncated at " + std::to_string(cut), t.stdin_text);
  }
  fs::remove(t.file);
  fs::create_directories(t.file);
  run_case(tally, t.command, t.file, "a directory", t.stdin_text);
  restore();
  if (!json) return;
  // JSON lines: a record of the kinds readers use most (the last validation record).
  std::string head, text = original, tail;
  if (lines) {
    const size_t at = original.rfind("\"kind\":\"validation\"");
    REQUIRE(at != std::string::npos);
    const size_t begin = original.rfind('\n', at) + 1, end = original.find('\n', at);
    head = original.substr(0, begin), text = original.substr(begin, end - begin), tail = original.substr(end);
  }
  const nlohmann::json doc = nlohmann::json::parse(text);
  const nlohmann::json flat = doc.flatten();
  // Text no nlohmann value dumps to: nesting 200,000 deep (nlohmann's recursive members
  // overflowed the stack on it) and a number no double holds, in the first numeric leaf.
  const std::string deep = R"({"a":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  write_text(t.file, head + deep + tail);
  run_case(tally, t.command, t.file, "nested 200000 deep", t.stdin_text);
  for (const auto& [pointer, value] : flat.items()) {
    if (!value.is_number()) continue;
    nlohmann::json damaged = doc;
    damaged[nlohmann::json::json_pointer(pointer)] = "1e400 here";
    std::string huge = damaged.dump(lines ? -1 : 2);
    huge.replace(huge.find("\"1e400 here\""), 12, "1e400");
    write_text(t.file, head + huge + tail);
    run_case(tally, t.command, t.file, pointer + " = 1e400", t.stdin_text);
    break;
  }
  for (const auto& [pointer, value] : flat.items()) {
    // A sample of the hostile values per leaf keeps the whole test near 20 s.
    std::vector<nlohmann::json> values = hostile_values(value);
    for (size_t k = 0; k < 2; ++k) {
      nlohmann::json damaged = doc;
      const nlohmann::json& v = values[rng.below(values.size())];
      damaged[nlohmann::json::json_pointer(pointer)] = v;
      write_text(t.file, head + damaged.dump(lines ? -1 : 2) + tail);
      run_case(tally, t.command, t.file, pointer + " = " + v.dump(), t.stdin_text);
    }
  }
  restore();
}

}  // namespace

TEST_CASE("damaged files: one line naming the file, never library text or a crash") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)", "", 300, 40);
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  run_bcqnmt_ok("quantize --mode ptq" + t.flags);
  run_bcqnmt_ok("sensitivity --bits 2 --solver greedy" + t.flags);
  const fs::path bundle = dir.path / "bundle";
  run_bcqnmt_ok("export --out " + bundle.string() + " --run " + t.run.string() + " --model 3bit-greedy-ptq");
  const fs::path bits = dir.path / "bits.json";
  write_text(bits, slurp(fs::path(BCQNMT_SOURCE_DIR) / "configs" / "bits_chung2020.json"));
  const fs::path variant = t.run / "quantized" / "3bit-greedy-ptq";
  const std::string run = " --threads 1 --run " + t.run.string();
  const std::string translate_variant = "translate" + run + " --model 3bit-greedy-ptq";

  const std::vector<std::tuple<Target, bool, bool>> targets{
      {{t.run / "config.json", "info" + run, ""}, true, false},
      {{t.run / "pretrain" / "manifest.json", "pretrain --epochs 1" + t.flags, ""}, true, false},
      {{variant / "manifest.json", translate_variant, "ka lo .\n"}, true, false},
      {{variant / "settings.json", "quantize --mode ptq" + t.flags, ""}, true, false},
      {{t.run / "metrics.jsonl", "report" + run, ""}, true, true},
      {{t.run / "sensitivity.json", "plot --out " + (dir.path / "plots").string() + t.flags, ""}, true, false},
      {{bundle / "bundle.json", "translate --threads 1 --bundle " + bundle.string(), "ka lo .\n"}, true, false},
      {{bits, "quantize --mode ptq --name b --bits-config " + bits.string() + t.flags, ""}, true, false},
      {{t.run / "vocab.pt.txt", "info" + run, ""}, false, false},
      {{t.run / "pretrain" / "best.ckpt", "info" + run, ""}, false, false},
      {{variant / "model.bcq", translate_variant, "ka lo .\n"}, false, false},
  };
  Rng rng(185);
  Tally total;
  for (const auto& [target, json, lines] : targets) {
    Tally tally;
    damage(tally, target, json, lines, rng);
    MESSAGE(target.file.filename().string() << " (" << target.command.substr(0, target.command.find(' ')) << "): "
                                            << tally.tried << " cases, " << tally.ran << " ran, " << tally.clean_errors
                                            << " clean errors, " << tally.library_texts << " library texts, "
                                            << tally.unclear << " unclear, " << tally.crashes << " crashes");
    total.tried += tally.tried, total.ran += tally.ran, total.clean_errors += tally.clean_errors;
    total.library_texts += tally.library_texts, total.unclear += tally.unclear, total.crashes += tally.crashes;
  }
  MESSAGE("all readers: " << total.tried << " cases, " << total.ran << " ran, " << total.clean_errors
                          << " clean errors, " << total.library_texts << " library texts, " << total.unclear
                          << " unclear, " << total.crashes << " crashes");
  CHECK(total.clean_errors > total.tried / 2);
}

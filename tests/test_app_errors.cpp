// Bad input to the bcqnmt binary: one line on stderr, nothing overwritten, and the exit
// status of its kind: 2 for a command line that cannot mean anything, 1 for a run-time
// failure (a missing or corrupt file, a bad config, a run in the wrong state).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>

#include "run_binary.h"
#include "synthetic_corpus.h"
#include "tiny_run.h"

using namespace bcqnmt::test;

namespace {

// A run directory with vocabularies and a config, made without any corpus.
void make_run(const std::filesystem::path& run) {
  std::string vocab = "[PAD]\n[UNK]\n[START]\n[END]\n";
  for (char c = 'a'; c <= 'z'; ++c) vocab += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  write_text(run / "vocab.pt.txt", vocab);
  write_text(run / "vocab.en.txt", vocab);
  write_text(run / "config.json", R"({"model": {"num_layers": 1, "d_model": 8, "dff": 8, "num_heads": 2, "key_dim": 4}})");
}

void expect_error(const CommandResult& r, int status, const std::string& needle) {
  CHECK(r.status == status);
  CHECK(count_lines(r.err) == 1);
  CHECK_MESSAGE(r.err.find(needle) != std::string::npos, "stderr was: " << r.err);
}
void expect_usage_error(const CommandResult& r, const std::string& needle) { expect_error(r, 2, needle); }
void expect_runtime_error(const CommandResult& r, const std::string& needle) { expect_error(r, 1, needle); }

}  // namespace

TEST_CASE("--help tells the subcommands; no subcommand is a usage error") {
  const CommandResult help = run_bcqnmt("--help");
  CHECK(help.status == 0);
  for (const char* sub : {"vocab", "pretrain", "quantize", "evaluate", "translate", "info", "pipeline"})
    CHECK(help.out.find(sub) != std::string::npos);
  CHECK(run_bcqnmt("").status == 2);
  // An unknown word where the command belongs is named, with the commands there are.
  for (const char* args : {"frob", "--threads 2 frob --run x"})
    expect_usage_error(run_bcqnmt(args), "unknown command \"frob\"; the commands are vocab, pretrain, quantize");
  // Every command's --help shows the global --threads.
  for (const char* sub : {"vocab", "pretrain", "quantize", "evaluate", "translate", "info", "pipeline", "plot",
                          "sensitivity", "report", "average", "score"})
    CHECK_MESSAGE(run_bcqnmt(std::string(sub) + " --help").out.find("--threads") != std::string::npos, sub);
  CHECK(run_bcqnmt("pretrain --help").out.find("--epochs") != std::string::npos);
  const CommandResult version = run_bcqnmt("--version");
  CHECK(version.status == 0);
  CHECK(version.out.find("bcqnmt 0.1.0 (revision ") != std::string::npos);
  CHECK(version.out.find("BCQ kernel paths on this CPU: ") != std::string::npos);
}

TEST_CASE("missing data directory") {
  ScratchDir dir;
  const CommandResult r = run_bcqnmt("vocab --data " + (dir.path / "nowhere").string() + " --run " + (dir.path / "run").string());
  expect_runtime_error(r, "nowhere");
  CHECK_FALSE(std::filesystem::exists(dir.path / "run" / "vocab.pt.txt"));
}

TEST_CASE("mismatched corpus files") {
  ScratchDir dir;
  for (const char* split : {"train", "validation", "test"}) {
    write_text(dir.path / "data" / (std::string(split) + ".pt"), "um\ndois\n");
    write_text(dir.path / "data" / (std::string(split) + ".en"), "one\n");
  }
  const CommandResult r = run_bcqnmt("vocab --data " + (dir.path / "data").string() + " --run " + (dir.path / "run").string());
  expect_runtime_error(r, "lines");
}

TEST_CASE("pairs dropped for an empty side are counted on stderr") {
  ScratchDir dir;
  for (const char* split : {"train", "validation", "test"}) {
    write_text(dir.path / "data" / (std::string(split) + ".pt"), "um\n\ntres\nquatro\n");
    write_text(dir.path / "data" / (std::string(split) + ".en"), "one\ntwo\n \nfour\n");
  }
  const CommandResult r = run_bcqnmt("vocab --size 40 --data " + (dir.path / "data").string() + " --run " +
                                     (dir.path / "run").string());
  CHECK(r.status == 0);
  CHECK_MESSAGE(r.err.find("the train split drops 2 of 4 pairs, whose source or target line is empty") !=
                    std::string::npos,
                "stderr was: " << r.err);
}

TEST_CASE("malformed config, unknown keys, a config that differs from the run's") {
  ScratchDir dir;
  make_run(dir.path / "run");
  const std::string before = slurp(dir.path / "run" / "config.json");
  write_text(dir.path / "bad.json", "{\"model\": {\"num_layers\": 2,}");
  expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "bad.json").string() + " --run " + (dir.path / "run").string()),
                     "malformed JSON");
  expect_runtime_error(run_bcqnmt("pretrain --config " + dir.path.string() + " --run " + (dir.path / "run").string()),
                       "cannot read config file " + dir.path.string());
  write_text(dir.path / "unknown.json", R"({"model": {"num_layrs": 2}})");
  expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "unknown.json").string() + " --run " +
                                (dir.path / "run").string()),
                     "unknown key \"num_layrs\"");
  write_text(dir.path / "other.json", R"({"model": {"num_layers": 3}})");
  write_text(dir.path / "run" / "pretrain" / "latest.ckpt", "a run that has trained");
  expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "other.json").string() + " --run " +
                                (dir.path / "run").string()),
                     "another config");
  CHECK(slurp(dir.path / "run" / "config.json") == before);
}

// Names and keys quoted from a config are escaped like any bytes quoted from a file
// (core/quoted_text): a JSON-escaped ESC used to reach the terminal, and a NUL cut the line.
TEST_CASE("control characters in a config's keys and names are escaped in errors") {
  ScratchDir dir;
  make_run(dir.path / "run");
  const std::string run = " --run " + (dir.path / "run").string();
  write_text(dir.path / "name.json", R"({"model": {"norm": "\u001b[31mred\u0000tail"}})");
  const CommandResult name = run_bcqnmt("pretrain --config " + (dir.path / "name.json").string() + run);
  CHECK(name.status == 1);
  CHECK_MESSAGE(name.err.find("\\x1b[31mred\\x00tail") != std::string::npos, name.err);
  write_text(dir.path / "key.json", R"({"model": {"\u001b[31mkey": 1}})");
  const CommandResult key = run_bcqnmt("pretrain --config " + (dir.path / "key.json").string() + run);
  CHECK(key.status == 1);
  CHECK_MESSAGE(key.err.find("unknown key \"\\x1b[31mkey\"") != std::string::npos, key.err);
  for (const CommandResult& r : {name, key}) CHECK(r.err.find('\x1b') == std::string::npos);
  const CommandResult tab = run_bcqnmt("quantize --name 'a\tb'" + run);
  CHECK(tab.status == 2);
  CHECK(tab.err.find('\t') == std::string::npos);
}

TEST_CASE("an integer a config field cannot hold is an error, not a wrap; a new run keeps no config") {
  ScratchDir dir;
  make_run(dir.path / "run");
  std::filesystem::remove(dir.path / "run" / "config.json");
  write_text(dir.path / "wrap.json", R"({"training": {"epochs": 4294967297}})");
  expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "wrap.json").string() + " --run " +
                                (dir.path / "run").string()),
                     "\"epochs\" = 4294967297 is out of range (1..2147483647)");  // its own range, not int's
  CHECK(!std::filesystem::exists(dir.path / "run" / "config.json"));
  // The model section too: 4294967298 heads trained a 2-head model; 1e5 layers ran 108 s
  // and took 3.85 GB before a bare std::bad_alloc.
  for (const auto& [model, message] : std::vector<std::pair<std::string, std::string>>{
           {R"("num_heads": 4294967298)", "\"num_heads\" = 4294967298 is out of range (1..1024)"},
           {R"("num_layers": 100000)", "\"num_layers\" = 100000 is out of range (1..256)"},
           {R"("num_layers": 200, "d_model": 4096, "dff": 16384)", "weights exceed the bound of 1073741824"},
           {R"(}, "training": {"batcher": "bucketed", "token_budget": 1)", "token budget"},
           {R"(}, "training": {"max_tokens": 2147483647)", "max_tokens and batch_size must be <= 1048576"}}) {
    write_text(dir.path / "big.json", R"({"model": {)" + model + "}}");
    const auto start = std::chrono::steady_clock::now();
    expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "big.json").string() + " --run " +
                                    (dir.path / "run").string()),
                         message);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(!std::filesystem::exists(dir.path / "run" / "config.json"));
  }
  // A start that fails after adopting its config (here: no corpus) does not bind the run to
  // it: the next start may bring another config.
  write_text(dir.path / "first.json", R"({"model": {"num_layers": 1}})");
  write_text(dir.path / "second.json", R"({"model": {"num_layers": 2}})");
  const std::string run = " --data " + (dir.path / "nowhere").string() + " --run " + (dir.path / "run").string();
  CHECK(run_bcqnmt("pretrain --config " + (dir.path / "first.json").string() + run).status == 1);
  const CommandResult second = run_bcqnmt("pretrain --config " + (dir.path / "second.json").string() + run);
  CHECK(second.status == 1);
  CHECK(second.err.find("another config") == std::string::npos);
  CHECK(nlohmann::json::parse(slurp(dir.path / "run" / "config.json")).at("model").at("num_layers") == 2);
}

TEST_CASE("a field of the wrong type in metrics.jsonl or a manifest names the file") {
  ScratchDir dir;
  const auto run = dir.path / "run";
  make_run(run);
  write_text(run / "metrics.jsonl", R"({"phase": "pretrain", "kind": "validation", "step": "x", "epoch": "x", "seconds": "x", "val_masked_accuracy": "x"})" "\n");
  for (const std::string command : {"report", "plot"})
    expect_runtime_error(run_bcqnmt(command + " --run " + run.string()),
                         (run / "metrics.jsonl").string() + ": a record has a field of the wrong type");
  write_text(run / "vocab.pt.txt", slurp(run / "vocab.en.txt"));
  write_text(run / "quantized" / "v" / "model.bcq", "x");
  write_text(run / "pretrain" / "best.ckpt", "x");
  write_text(run / "quantized" / "v" / "manifest.json", R"({"source": {"sha256": 5}})");
  expect_runtime_error(run_bcqnmt("translate --run " + run.string() + " --model v", "a\n"),
                       (run / "quantized" / "v" / "manifest.json").string() + ": damaged manifest");
}

TEST_CASE("a record of the wrong type in metrics.jsonl stops pretrain with the file and line, a torn line is skipped") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)", "", 100, 10);
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  write_text(t.run / "metrics.jsonl", "{\"phase\": \"pre\n{\"phase\": 7}\n");
  expect_runtime_error(run_bcqnmt("pretrain --config " + t.config.string() + t.flags),
                       (t.run / "metrics.jsonl").string() + " line 2: a record has a field of the wrong type");
}

// `ulimit -v` caps the address space, and AddressSanitizer reserves terabytes of it for its
// shadow memory at start-up: under -DBCQNMT_SANITIZE=ON a capped binary cannot start at all.
bool address_space_can_be_capped() {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("SKIPPED: ulimit -v leaves an AddressSanitizer build no room for its shadow memory");
  return false;
#else
  return true;
#endif
}

TEST_CASE("a model the memory cannot hold is refused before anything is written into the run") {
  if (!address_space_can_be_capped()) return;
  ScratchDir dir;
  make_run(dir.path / "run");
  std::filesystem::remove(dir.path / "run" / "config.json");
  // 812 M weights: under the config's bound of 2^30, over what `ulimit -v` 3 GB leaves (12 GB to
  // train); it ended in a bare std::bad_alloc after config.json and metrics.jsonl were written.
  write_text(dir.path / "big.json",
             R"({"model": {"num_layers": 1, "d_model": 16384, "dff": 64, "num_heads": 16, "key_dim": 256}})");
  const CommandResult r = run_command("ulimit -v 3000000; " + std::string(BCQNMT_BINARY) + " pretrain --config " +
                                      (dir.path / "big.json").string() + " --run " + (dir.path / "run").string());
  expect_runtime_error(r, (dir.path / "big.json").string() + ": the model's 812253184 weights need at least");
  CHECK(!std::filesystem::exists(dir.path / "run" / "config.json"));
  CHECK(!std::filesystem::exists(dir.path / "run" / "metrics.jsonl"));
}

TEST_CASE("memory running out while training is one line naming the command, not std::bad_alloc") {
  if (!address_space_can_be_capped()) return;
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)", "", 100, 10);
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  // Few weights (the memory check passes), but each batch's dff activations are 64 k wide.
  write_text(t.config, R"({"model": {"num_layers": 1, "d_model": 32, "dff": 65536, "num_heads": 2, "key_dim": 16},
                           "training": {"batch_size": 64}})");
  const CommandResult r = run_command("ulimit -v 1500000; " + std::string(BCQNMT_BINARY) + " pretrain --config " +
                                      t.config.string() + t.flags);
  expect_runtime_error(r, "out of memory in `");
  CHECK(r.err.find("std::") == std::string::npos);
}

TEST_CASE("more threads than the system can start is one error line, not an abort") {
  if (!address_space_can_be_capped()) return;
  ScratchDir dir;
  make_run(dir.path / "run");
  // With 3 GB of address space, the helpers' 8 MB stacks run out after a few hundred threads.
  // ThreadTeam's constructor destroyed its running threads and std::terminate aborted (exit
  // 134) before it stopped them and threw.
  const CommandResult r = run_command("ulimit -v 3000000; " + std::string(BCQNMT_BINARY) + " translate --run " +
                                      (dir.path / "run").string() + " --threads 5000 < /dev/null");
  // Two lines: --threads' warning that 5000 is more than this machine's cores, then the error.
  CHECK(r.status == 1);
  CHECK(count_lines(r.err) == 2);
  CHECK_MESSAGE(r.err.find("bcqnmt: error: cannot start a team of 5000 threads: thread ") != std::string::npos,
                "stderr was: " << r.err);
}

TEST_CASE("a run directory without the checkpoint a command needs") {
  ScratchDir dir;
  make_run(dir.path / "run");
  const std::string run = (dir.path / "run").string();
  expect_runtime_error(run_bcqnmt("evaluate --run " + run), "pretrain/best.ckpt");
  expect_runtime_error(run_bcqnmt("translate --run " + run, "olá\n"), "pretrain");
  expect_runtime_error(run_bcqnmt("quantize --run " + run), "pretrain/best.ckpt");
  expect_runtime_error(run_bcqnmt("evaluate --run " + run + " --model 3bit"), "no model \"3bit\"");
  expect_runtime_error(run_bcqnmt("evaluate --run " + (dir.path / "empty").string()), "config.json");
}

TEST_CASE("an unreadable .bcq file") {
  ScratchDir dir;
  make_run(dir.path / "run");
  const auto file = dir.path / "run" / "quantized" / "v" / "model.bcq";
  std::filesystem::create_directories(file.parent_path());
  write_text(file, "this is not a bcq file");
  const CommandResult r = run_bcqnmt("translate --run " + (dir.path / "run").string() + " --model v", "olá\n");
  expect_runtime_error(r, "model.bcq");
  CHECK(slurp(file) == "this is not a bcq file");
}

TEST_CASE("a command's flag before the command is named as misplaced (CLI11 said \"--run is required\")") {
  const CommandResult r = run_bcqnmt("--run somewhere info");
  CHECK(r.status == 2);
  CHECK(r.err == "bcqnmt: error: --run belongs after the command: bcqnmt info --run ... (see bcqnmt info --help)\n");
  // Global flags may come first.
  CHECK(run_bcqnmt("--threads 1 info --run " + std::string("/nonexistent")).err.find("belongs after") ==
        std::string::npos);
}

TEST_CASE("bad flag values are usage errors") {
  expect_usage_error(run_bcqnmt("quantize --run x --bits 12"), "bits");
  expect_usage_error(run_bcqnmt("quantize --run x --name ../escape"), "variant name");
  expect_usage_error(run_bcqnmt("quantize --run x --name -x"), "variant name \"-x\"");
  expect_usage_error(run_bcqnmt("quantize --run x --distill 1.5"), "distill");
  // Counts say which rule the value broke (CLI11's range check called "abc" out of range).
  expect_usage_error(run_bcqnmt("--threads abc info --run x"), "--threads: \"abc\" is not a whole number");
  expect_usage_error(run_bcqnmt("info --run x --threads -1"), "--threads: -1 is below 0");
  expect_usage_error(run_bcqnmt("translate --run x --beam 0"), "--beam");
  expect_usage_error(run_bcqnmt("evaluate --run x --limit 99999999999"), "--limit: 99999999999 is too large (at most 2147483647)");
  // Found before any picture is written.
  ScratchDir dir;
  make_run(dir.path / "run");
  const CommandResult no_layer = run_bcqnmt("plot --run " + (dir.path / "run").string() + " --layer nope");
  expect_usage_error(no_layer, "--layer \"nope\"");
  CHECK(no_layer.err.find("encoder/layer_N/ffn/dense_0/kernel") != std::string::npos);  // the names it could be
  CHECK_FALSE(std::filesystem::exists(dir.path / "run" / "plots"));
}

TEST_CASE("bf16 matmuls asked of a CPU without them: one-line error, no checkpoint") {
  // oneDNN reads ONEDNN_MAX_CPU_ISA at start-up; capped at AVX2 it reports no bf16 support,
  // as a CPU without AVX512-BF16 and AMX would.
  ScratchDir dir;
  make_synthetic_corpus(dir.path / "data", 40, 10, 10);
  make_run(dir.path / "run");
  std::filesystem::remove(dir.path / "run" / "config.json");
  write_text(dir.path / "bf16.json", R"({"model": {"num_layers": 1, "d_model": 8, "dff": 8, "num_heads": 2, "key_dim": 4},
                                         "training": {"epochs": 1, "matmul_precision": "bf16"}})");
  setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
  const CommandResult r = run_bcqnmt("pretrain --config " + (dir.path / "bf16.json").string() + " --run " +
                                     (dir.path / "run").string() + " --data " + (dir.path / "data").string());
  unsetenv("ONEDNN_MAX_CPU_ISA");
  expect_runtime_error(r, "bf16 matmuls need a CPU with AVX512-BF16 or AMX");
  CHECK_FALSE(std::filesystem::exists(dir.path / "run" / "pretrain" / "latest.ckpt"));
  write_text(dir.path / "fp16.json", R"({"training": {"matmul_precision": "fp16"}})");
  expect_runtime_error(run_bcqnmt("pretrain --config " + (dir.path / "fp16.json").string() + " --run " +
                                (dir.path / "other").string()),
                     "\"matmul_precision\" must be \"fp32\", \"bf16\" or \"auto\"");
}

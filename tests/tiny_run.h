#pragma once
// A run directory for tests of commands that need a trained run: a synthetic corpus
// (tests/synthetic_corpus.h) and the config of a 1-layer d_model 32 model that trains an
// epoch in about a second on one thread. `flags` is what every command of the run takes.
#include <string>
#include <vector>

#include "optim/checkpoint.h"
#include "run_binary.h"
#include "synthetic_corpus.h"

namespace bcqnmt::test {

struct TinyRun {
  std::filesystem::path data, run, config;
  std::string flags;  // " --threads 1 --data DATA --run RUN"
};

// `training` and `quantization` are extra keys of those config sections (JSON members,
// e.g. R"("epochs": 2)"); the corpus has train_pairs / validation_pairs / 5 test pairs.
inline TinyRun make_tiny_run(const std::filesystem::path& dir, const std::string& training,
                             const std::string& quantization = "", int train_pairs = 600, int validation_pairs = 60) {
  TinyRun t{dir / "data", dir / "run", dir / "config.json", ""};
  make_synthetic_corpus(t.data, train_pairs, validation_pairs, 5);
  write_text(t.config, R"({
    "model": {"num_layers": 1, "d_model": 32, "dff": 64, "num_heads": 2, "key_dim": 16, "dropout_rate": 0.1},
    "training": {"batch_size": 32, "shuffle_buffer": 200, "warmup_steps": 20, "seed": 3)" +
                           (training.empty() ? "" : ", " + training) + R"(},
    "quantization": {)" + quantization + R"(}
  })");
  t.flags = " --threads 1 --data " + t.data.string() + " --run " + t.run.string();
  return t;
}

// Runs the binary and requires exit status 0, showing the command and its output if not.
inline CommandResult run_bcqnmt_ok(const std::string& args, const std::string& stdin_text = "") {
  const CommandResult r = run_bcqnmt(args, stdin_text);
  INFO(args << "\n" << r.out << r.err);
  REQUIRE(r.status == 0);
  return r;
}

// A tiny run with vocabularies and one epoch of pretraining done.
inline TinyRun make_trained_tiny_run(const std::filesystem::path& dir, const std::string& training = "") {
  TinyRun t = make_tiny_run(dir, training);
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags + " --epochs 1");
  return t;
}

// Every parameter of a checkpoint file, in order: what bit-identity checks compare.
inline std::vector<std::vector<float>> parameters_of(const std::filesystem::path& checkpoint) {
  std::vector<std::vector<float>> out;
  for (const auto& p : bcqnmt::load_checkpoint(checkpoint).parameters) out.push_back(p.value.to_vector());
  return out;
}

}  // namespace bcqnmt::test

// End to end, as a user runs it: `bcqnmt pipeline` on a slice of the real corpus through
// every stage, then translate and info on the trained run.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "apps/experiment.h"
#include "apps/quantization_config.h"
#include "apps/training_config.h"
#include "nn/model_config.h"
#include "run_binary.h"
#include "synthetic_corpus.h"

using namespace bcqnmt::test;

// The configs the README's commands run: a key a change renamed or a value out of range
// would otherwise show only when a user starts the pipeline.
TEST_CASE("every run config in configs/ parses") {
  int run_configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(BCQNMT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".json") continue;
    // A bit allocation (--bits-config) is not a run config.
    if (!nlohmann::json::parse(slurp(entry.path())).contains("model")) continue;
    CAPTURE(entry.path().filename().string());
    const nlohmann::json config = bcqnmt::read_config_file(entry.path().string());
    const auto object = nlohmann::json::object();
    CHECK_NOTHROW(bcqnmt::ModelConfig::from_json(config.at("model")));
    CHECK_NOTHROW(bcqnmt::TrainingConfig::from_json(config.value("training", object)));
    CHECK_NOTHROW(bcqnmt::QuantizationConfig::from_json(config.value("quantization", object)));
    ++run_configs;
  }
  CHECK(run_configs == 4);  // small, small_bucketed, small_bucketed_bf16, tiny
}

TEST_CASE("pipeline with a tiny model on 2,000 real training pairs") {
  const std::string data = real_corpus_or_skip();
  if (data.empty()) return;
  ScratchDir dir;
  const auto run = dir.path / "run";
  write_text(dir.path / "config.json", R"({
    "model": {"num_layers": 2, "d_model": 64, "dff": 128, "num_heads": 4, "key_dim": 16, "dropout_rate": 0.1},
    "training": {"epochs": 3, "batcher": "bucketed", "token_budget": 2000, "warmup_steps": 100,
                 "train_limit": 2000, "validation_limit": 200, "keep_epoch_checkpoints": 2},
    "quantization": {"bits": 3, "epochs": 1}
  })");
  const CommandResult r = run_bcqnmt("pipeline --config " + (dir.path / "config.json").string() + " --data " + data +
                                     " --run " + run.string() + " --vocab-limit 2000");
  INFO("stdout tail: " << r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0));
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("Epoch 3/3") != std::string::npos);
  CHECK(r.out.find("average: epochs [2,3]") != std::string::npos);  // checkpoint averaging of the last 2
  CHECK(r.out.find("PT: ") != std::string::npos);
  CHECK(r.out.find("OUT: ") != std::string::npos);
  CHECK(r.out.find("sacreBLEU-style") != std::string::npos);

  // Training loss fell from the first epoch to the last.
  std::istringstream metrics(slurp(run / "metrics.jsonl"));
  std::vector<double> losses;
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("phase") == "pretrain" && j.at("kind") == "validation") losses.push_back(j.at("loss").get<double>());
  }
  REQUIRE(losses.size() == 3);
  MESSAGE("pretrain loss per epoch: " << losses[0] << " " << losses[1] << " " << losses[2]);
  CHECK(losses.back() < losses.front());

  // Both models translate the whole test set into non-empty lines. The quantized one is
  // the config's variant under its default name.
  const char* variant = "3bit-greedy-projection";
  CHECK(std::filesystem::exists(run / "quantized" / variant / "model.bcq"));
  CHECK(std::filesystem::exists(run / "quantized" / variant / "settings.json"));
  for (const char* model : {"fp", variant}) {
    std::istringstream out(slurp(run / "eval" / (std::string(model) + ".test.beam1.txt")));
    int lines = 0, non_empty = 0;
    for (std::string line; std::getline(out, line); ++lines) non_empty += !line.empty();
    CHECK(lines == 1803);
    CHECK(non_empty > 1700);
  }
  for (const char* model : {"fp", variant}) {
    const CommandResult t = run_bcqnmt("translate --run " + run.string() + " --model " + model, "obrigado .\n");
    CHECK(t.status == 0);
    CHECK(count_lines(t.out) == 1);
    CHECK(t.out.size() > 1);
  }
  const CommandResult info = run_bcqnmt("info --run " + run.string());
  CHECK(info.status == 0);
  CHECK(info.out.find("variant 3bit-greedy-projection") != std::string::npos);
  CHECK(info.out.find("model.bcq") != std::string::npos);

  // evaluate --output to a place that cannot be written fails before decoding (it used to
  // decode the whole split first).
  const CommandResult nowhere =
      run_bcqnmt("evaluate --run " + run.string() + " --data " + data + " --limit 3 --output " +
                 (dir.path / "no" / "x.txt").string());
  CHECK(nowhere.status == 1);
  CHECK(nowhere.out.find("PT: ") == std::string::npos);
  // A --limit past the split's end is the whole split, and named so (not ".first100000").
  const CommandResult whole = run_bcqnmt("evaluate --run " + run.string() + " --data " + data +
                                            " --split validation --limit 100000 --samples 0");
  INFO("evaluate: " << whole.out << whole.err);
  CHECK(whole.status == 0);
  CHECK(std::filesystem::exists(run / "eval" / "fp.validation.beam1.txt"));
  CHECK(!std::filesystem::exists(run / "eval" / "fp.validation.beam1.first100000.txt"));
}

// pipeline installs the training commands' signal handlers, so its evaluation stages must
// poll the flag themselves: SIGINT during `== 4/5` ends the decoding at its next step, with
// 130, before the evaluation prints a score.
TEST_CASE("pipeline: SIGINT during evaluation exits 130 at once") {
  ScratchDir dir;
  make_synthetic_corpus(dir.path / "data", 600, 60, /*test_pairs=*/40000);  // an evaluation of seconds
  write_text(dir.path / "config.json", R"({
    "model": {"num_layers": 1, "d_model": 32, "dff": 64, "num_heads": 2, "key_dim": 16, "dropout_rate": 0.1},
    "training": {"epochs": 1, "batch_size": 32, "shuffle_buffer": 200, "warmup_steps": 20, "seed": 3},
    "quantization": {"bits": 3, "epochs": 1}
  })");
  const auto log = dir.path / "pipeline.log";
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = std::string(BCQNMT_BINARY) + " pipeline --threads 1 --config " +
                            (dir.path / "config.json").string() + " --data " + (dir.path / "data").string() +
                            " --run " + (dir.path / "run").string() + " > " + log.string() + " 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (slurp(log).find("== 4/5") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto signalled = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int raw = 0;
  waitpid(pid, &raw, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  const std::string output = slurp(log);
  INFO(output.substr(output.size() > 2000 ? output.size() - 2000 : 0));
  REQUIRE(output.find("== 4/5") != std::string::npos);
  CHECK(WIFEXITED(raw));
  CHECK(WEXITSTATUS(raw) == 130);
  CHECK(output.find("BLEU (nltk") == std::string::npos);  // the evaluation did not run to its end
  MESSAGE("stopped " << seconds << " s after SIGINT");
  CHECK(seconds < 5.0);
}

// Post-training quantization keeps no checkpoint (nothing is trained): the summary takes the
// variant's validation accuracy from the record quantize logged, where it used to fail on
// the missing best.ckpt (exit 1, after both evaluations), and --quantize-epochs, which a ptq
// config cannot use, is refused before anything runs.
TEST_CASE("pipeline with a post-training quantization config runs to its summary") {
  ScratchDir dir;
  make_synthetic_corpus(dir.path / "data", 300, 30, /*test_pairs=*/20);
  write_text(dir.path / "config.json", R"({
    "model": {"num_layers": 1, "d_model": 32, "dff": 64, "num_heads": 2, "key_dim": 16, "dropout_rate": 0.1},
    "training": {"epochs": 1, "batch_size": 32, "shuffle_buffer": 200, "warmup_steps": 20, "seed": 3},
    "quantization": {"bits": 3, "mode": "ptq"}
  })");
  const std::string base = "pipeline --config " + (dir.path / "config.json").string() + " --data " +
                           (dir.path / "data").string() + " --run " + (dir.path / "run").string();
  const CommandResult refused = run_bcqnmt(base + " --quantize-epochs 2");
  CHECK(refused.status == 2);
  CHECK(refused.err.find("\"ptq\", which does not train") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path / "run"));
  const CommandResult r = run_bcqnmt(base);
  INFO("stdout tail: " << r.out.substr(r.out.size() > 2000 ? r.out.size() - 2000 : 0));
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("== 3/5 BCQ post-training quantization") != std::string::npos);
  const auto row = r.out.find("\nbcq ");
  REQUIRE(row != std::string::npos);
  std::istringstream fields(r.out.substr(row + 1));
  std::string name;
  double bleu = 0, sacre = 0, accuracy = 0;
  fields >> name >> bleu >> sacre >> accuracy;
  CHECK(accuracy > 0.0);  // the logged validation accuracy, not a default
}

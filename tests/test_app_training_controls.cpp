// The training controls a practitioner relies on (Marian, fairseq): a non-finite loss stops
// training without touching the last good checkpoint, a diverged checkpoint is refused by
// every command that would read its weights, early stopping ends a phase after `patience`
// validations without a new best (and stays stopped on a rerun), and the step log records
// the throughput.
#include <doctest/doctest.h>

#include <iomanip>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "apps/app_error.h"
#include "apps/experiment.h"
#include "apps/progress_bar.h"
#include "apps/trainer.h"
#include "apps/training_batches.h"
#include "core/ops.h"
#include "optim/checkpoint.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

namespace {

std::vector<nlohmann::json> metrics_records(const std::filesystem::path& run, const std::string& kind) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto r = nlohmann::json::parse(line);
    if (r.value("kind", "") == kind) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

TEST_CASE("a non-finite loss stops training with one clear error; the last good checkpoint stays") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const auto latest = t.run / "pretrain" / "latest.ckpt";
  const int64_t saved_step = load_checkpoint(latest).step;
  const auto saved = parameters_of(latest);

  // Epoch 2 in-process, with a loss that turns NaN at its third step (what an exploding
  // learning rate or a bf16 overflow produces).
  Experiment e = open_experiment(t.run.string(), "");
  const EncodedCorpus train = load_encoded_split(e, t.data.string(), Split::kTrain, 0);
  const EncodedCorpus validation = load_encoded_split(e, t.data.string(), Split::kValidation, 0);
  Transformer model(e.model, e.training.seed);
  Trainer trainer(model, e.training, train, validation, e.identity(), e.run);
  TrainerPhase phase;
  phase.name = "pretrain";
  phase.checkpoint_dir = e.run.pretrain_dir();
  phase.epochs = 2;
  int calls = 0;
  phase.loss = [&](const Transformer& m, const Batch& b, TokenCounts* counts) {
    const Variable loss = m.masked_loss(b.source, b.target_in, b.target_out, counts);
    return ++calls == 3 ? mul_scalar(loss, std::numeric_limits<float>::quiet_NaN()) : loss;
  };
  std::ostringstream out;
  std::string message;
  try {
    trainer.run(phase, out);
  } catch (const AppError& err) {
    message = err.what();
  }
  MESSAGE(message);
  CHECK(message.find("pretrain step " + std::to_string(saved_step + 3) + ": the loss is NaN") != std::string::npos);
  CHECK(message.find("(step " + std::to_string(saved_step) + ") is the last good state") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  CHECK(load_checkpoint(latest).step == saved_step);
  CHECK(parameters_of(latest) == saved);
}

TEST_CASE("a checkpoint holding NaN weights is refused by name by every command that reads it") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const auto best = t.run / "pretrain" / "best.ckpt";
  Checkpoint c = load_checkpoint(best);
  NamedTensor& poisoned = c.parameters.at(5);
  poisoned.value.data()[7] = std::numeric_limits<float>::infinity();
  save_checkpoint(best, c);
  const std::string translate_flags = " --threads 1 --run " + t.run.string();  // translate reads no corpus
  for (const std::string& command : {"quantize --bits 2 --mode ptq" + t.flags, "plot" + t.flags, "evaluate" + t.flags,
                                    "translate" + translate_flags}) {
    const CommandResult r = run_bcqnmt(command, "obrigado\n");
    INFO(command << ": " << r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(best.string() + ": parameter " + poisoned.name + " holds a non-finite value (+Inf at element 7)") !=
          std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("early stopping ends the phase after `patience` validations without a new best, and stays stopped") {
  ScratchDir dir;
  // Validating every 2 steps on a tiny model with a long warm-up: the accuracy stalls early,
  // so some validations do not beat the best and patience 2 runs out within 6 epochs.
  const TinyRun t = make_tiny_run(dir.path, R"("patience": 2, "epochs": 6, "warmup_steps": 4000)");
  run_bcqnmt_ok("vocab" + t.flags);
  const CommandResult first = run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  const auto validations = metrics_records(t.run, "validation");
  // Recompute the count the trainer keeps from the recorded accuracies.
  double best = -1.0;
  int since_best = 0, stopped_after = 0;
  for (const auto& v : validations) {
    const double acc = v.at("val_masked_accuracy").get<double>();
    since_best = acc > best ? 0 : since_best + 1;
    best = std::max(best, acc);
    ++stopped_after;
    if (since_best >= 2) break;
  }
  INFO(first.out);
  REQUIRE(since_best == 2);  // the run above must reach its patience, or the test proves nothing
  CHECK(validations.size() == static_cast<size_t>(stopped_after));
  CHECK(validations.size() < 6);
  CHECK(first.out.find("early stopping: val_masked_accuracy has not improved") != std::string::npos);
  // A rerun resumes, sees the patience spent, and trains nothing.
  const CommandResult again = run_bcqnmt_ok("pretrain" + t.flags);
  CHECK(again.out.find("early stopping") != std::string::npos);
  CHECK(metrics_records(t.run, "validation").size() == validations.size());
}

TEST_CASE("step logs record the target tokens per second") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path, R"("log_every": 5)");
  const auto logs = metrics_records(t.run, "log");
  REQUIRE(!logs.empty());
  for (const auto& r : logs) CHECK(r.at("target_tokens_per_second").get<double>() > 0.0);
  // A finished phase says so instead of resuming silently into nothing.
  CHECK(run_bcqnmt_ok("pretrain --epochs 1" + t.flags).out.find("epoch 1 of 1 is done; nothing to train") !=
        std::string::npos);
}

TEST_CASE("the new training keys are checked like every other: one line, exit 1, before training") {
  for (const auto& [training, says] :
       {std::pair{R"("patience": -1)", "\"patience\" must be >= 0"},
        std::pair{R"("best_metric": "val_bleu")", "needs \"validation_bleu_pairs\" > 0"},
        std::pair{R"("best_metric": "bleu")", "\"best_metric\" must be \"val_masked_accuracy\" or \"val_bleu\""}}) {
    ScratchDir dir;
    const TinyRun t = make_tiny_run(dir.path, training);
    run_bcqnmt_ok("vocab" + t.flags);
    const CommandResult r = run_bcqnmt("pretrain --config " + t.config.string() + t.flags);
    INFO(training << ": " << r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(t.run / "pretrain"));
  }
}

TEST_CASE("best.ckpt can be chosen by validation BLEU on a fixed subset") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("validation_bleu_pairs": 20, "best_metric": "val_bleu", "epochs": 3)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  const auto validations = metrics_records(t.run, "validation");
  REQUIRE(validations.size() == 3);
  const auto best_record = std::max_element(validations.begin(), validations.end(), [](const auto& a, const auto& b) {
    return a.at("val_bleu").template get<double>() < b.at("val_bleu").template get<double>();
  });
  const Checkpoint best = load_checkpoint(t.run / "pretrain" / "best.ckpt");
  CHECK(best.step == best_record->at("step").get<int64_t>());
  CHECK(best.metrics.at("val_bleu") == best_record->at("val_bleu").get<double>());
  CHECK(best.metrics.at("best_val_bleu") == best_record->at("val_bleu").get<double>());
  // The scorer is the test protocol on the subset: `evaluate` of best.ckpt on the first 20
  // validation pairs prints the same BLEU.
  const CommandResult eval = run_bcqnmt_ok("evaluate --split validation --limit 20" + t.flags);
  std::ostringstream expected;
  expected.precision(16);
  expected << "Validation BLEU: " << best.metrics.at("val_bleu") << "\n";
  CHECK(eval.out.find(expected.str()) != std::string::npos);
  CHECK(eval.out.find("Validation translations and references are written to") != std::string::npos);
  CHECK(eval.out.find("Test") == std::string::npos);  // it used to say "Testing, results ... written"
  // `info` shows the metric best.ckpt was chosen by.
  std::ostringstream shown;
  shown << std::fixed << std::setprecision(4) << "val_bleu " << best.metrics.at("val_bleu") << "\n";
  CHECK(run_bcqnmt_ok("info --run " + t.run.string()).out.find(shown.str()) != std::string::npos);
}

TEST_CASE("checkpoint averaging names the epoch checkpoint that holds a NaN or Inf") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 2, "keep_epoch_checkpoints": 2)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  const auto first = t.run / "pretrain" / "epoch_001.ckpt";
  Checkpoint c = load_checkpoint(first);
  c.parameters.at(2).value.data()[0] = std::numeric_limits<float>::quiet_NaN();
  std::filesystem::remove(first);  // a hard link to an older latest.ckpt: write a new file
  save_checkpoint(first, c);
  const CommandResult r = run_bcqnmt("average --last 2" + t.flags);
  CHECK(r.status == 1);
  CHECK(r.err.find(first.string() + ": parameter " + c.parameters.at(2).name + " holds a non-finite value (NaN") !=
        std::string::npos);
}

TEST_CASE("after a resume the ETA counts only the steps this process has timed") {
  // 50 of 100 steps were done before the resume; 10 more take ~1 s here, so ~0.1 s a step
  // and ~4 s for the 40 left (dividing by all 60 steps, as before, said 0 s).
  std::ostringstream out;
  ProgressBar bar(100, 50, out, /*interactive=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  bar.update(60, {});
  const std::string line = out.str();
  INFO(line);
  const size_t at = line.find("ETA: ");
  REQUIRE(at != std::string::npos);
  const int eta = std::stoi(line.substr(at + 5));
  CHECK(eta >= 3);
  CHECK(eta <= 40);  // generous: a loaded machine sleeps longer than asked
}

TEST_CASE("--log FILE appends what a command prints, one timestamped line each, across resumes") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path, R"("log_every": 5)");
  const std::filesystem::path log = dir.path / "train.log";
  // A command that prints, one that fails (its error line is kept too), then a usage error
  // before the command runs (nothing to log yet).
  const CommandResult first = run_bcqnmt("pretrain --epochs 1 --log " + log.string() + t.flags);
  CHECK(first.status == 0);
  CHECK(run_bcqnmt("--log " + log.string() + " evaluate --model nosuch" + t.flags).status == 1);
  const std::string text = slurp(log);
  INFO(text);
  std::istringstream lines(text);
  std::vector<std::string> logged;
  for (std::string line; std::getline(lines, line);) logged.push_back(line);
  REQUIRE(logged.size() >= 4);
  for (const std::string& line : logged) {
    CHECK(line.size() > 22);
    CHECK(line.rfind("[20", 0) == 0);  // "[2026-11-30 19:04:05] "
    CHECK(line.find('\r') == std::string::npos);
  }
  CHECK(logged[0].find("== ") != std::string::npos);
  CHECK(logged[0].find("pretrain --epochs 1") != std::string::npos);
  CHECK(text.find("epoch 1 of 1 is done") != std::string::npos);  // what stdout said
  CHECK(text.find("bcqnmt: error: ") != std::string::npos);      // what stderr said, appended
  // The terminal got the same text as without --log.
  CHECK(first.out.find("epoch 1 of 1 is done") != std::string::npos);
  const CommandResult unwritable = run_bcqnmt("info --log " + (dir.path / "no" / "x.log").string() + " --run " + t.run.string());
  CHECK(unwritable.status == 1);
  CHECK(unwritable.err.find("--log") != std::string::npos);
}

TEST_CASE("a metrics.jsonl line cut short is ended before the next record and skipped with a warning by readers") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path, R"("log_every": 5)");
  {
    std::ofstream torn(t.run / "metrics.jsonl", std::ios::app);
    torn << R"({"broken)";  // what a kill in the middle of a write leaves
  }
  run_bcqnmt_ok("pretrain --epochs 2" + t.flags);
  // The records written after it are whole lines (they used to be glued onto the torn one).
  std::istringstream lines(slurp(t.run / "metrics.jsonl"));
  int torn_lines = 0, records = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_object()) ++records;
    else torn_lines += line == R"({"broken)";
  }
  CHECK(torn_lines == 1);
  CHECK(records > 2);
  // report reads past it with one warning (it used to refuse the whole file).
  const CommandResult report = run_bcqnmt("report --run " + t.run.string());
  CHECK(report.status == 0);
  CHECK(report.err.find("bcqnmt: warning: " + (t.run / "metrics.jsonl").string() + " line ") == 0);
  CHECK(report.err.find("is not a JSON record (a write cut short?); skipped") != std::string::npos);
}

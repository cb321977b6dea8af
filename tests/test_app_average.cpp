// Checkpoint averaging: average_checkpoints is the element-wise mean; the trainer keeps the
// last N epoch checkpoints; `bcqnmt average` validates the mean and makes it best.ckpt only
// when it beats the best single epoch, recording the new best so a resumed run keeps it.
#include <doctest/doctest.h>

#include "optim/checkpoint_average.h"
#include "optim/checkpoint_error.h"
#include "apps/run_manifest.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

TEST_CASE("average_checkpoints is the element-wise mean; the rest comes from the last checkpoint") {
  auto make = [](float a, float b, int64_t step) {
    Checkpoint c;
    c.parameters.push_back({"w", Tensor::from({2}, {a, b})});
    c.optimizer.step = step;
    c.optimizer.first_moment.push_back(Tensor::from({2}, {a, b}));
    c.optimizer.second_moment.push_back(Tensor::from({2}, {a, b}));
    c.step = step;
    c.config_json = "{}";
    c.metrics["val_loss"] = 1.0;
    return c;
  };
  const Checkpoint mean = average_checkpoints({make(1, 2, 10), make(2, 4, 20), make(6, 0, 30)});
  CHECK(mean.parameters[0].value.to_vector() == std::vector<float>{3.0f, 2.0f});
  CHECK(mean.step == 30);
  CHECK(mean.metrics.empty());
  CHECK(mean.optimizer.first_moment.empty());  // a model, not a training state
  Checkpoint other = make(0, 0, 1);
  other.parameters[0].name = "v";
  CHECK_THROWS_AS(average_checkpoints({make(1, 2, 1), other}), CheckpointError);
  CHECK_THROWS_AS(average_checkpoints({}), CheckpointError);
}

TEST_CASE("keep_epoch_checkpoints keeps the last N; bcqnmt average validates their mean") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 3, "keep_epoch_checkpoints": 2)");
  const std::string& common = t.flags;
  run_bcqnmt_ok("vocab --size 200" + common);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + common);
  const auto run = t.run;
  const auto pretrain = run / "pretrain";
  CHECK(!std::filesystem::exists(pretrain / "epoch_001.ckpt"));
  REQUIRE(std::filesystem::exists(pretrain / "epoch_002.ckpt"));
  REQUIRE(std::filesystem::exists(pretrain / "epoch_003.ckpt"));
  CHECK(load_checkpoint(pretrain / "epoch_003.ckpt").epoch == 3);

  const CommandResult too_many = run_bcqnmt("average --last 3" + common);
  CHECK(too_many.status == 1);
  CHECK(too_many.err.find("fewer than --last 3") != std::string::npos);

  const CommandResult r = run_bcqnmt("average --last 2" + common);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const Checkpoint averaged = load_checkpoint(pretrain / "averaged.ckpt");
  const Checkpoint e2 = load_checkpoint(pretrain / "epoch_002.ckpt"), e3 = load_checkpoint(pretrain / "epoch_003.ckpt");
  for (size_t i = 0; i < averaged.parameters.size(); ++i) {
    const auto a = averaged.parameters[i].value.to_vector(), x = e2.parameters[i].value.to_vector(),
               y = e3.parameters[i].value.to_vector();
    for (size_t k = 0; k < a.size(); ++k) REQUIRE(a[k] == doctest::Approx((x[k] + y[k]) / 2).epsilon(1e-6));
  }
  const double value = averaged.metrics.at("val_masked_accuracy");
  const Checkpoint best = load_checkpoint(pretrain / "best.ckpt");
  const double best_value = best.metrics.at("val_masked_accuracy");
  // Whichever won, best.ckpt holds the better of the two, and latest.ckpt remembers it.
  CHECK(best_value >= value);
  CHECK(load_checkpoint(pretrain / "latest.ckpt").metrics.at("best_val_masked_accuracy") == best_value);
  if (r.out.find("it is now") != std::string::npos) CHECK(best_value == value);
  CHECK(PhaseFiles(pretrain).mismatched_files().empty());  // the manifest names the files as they are

  // Never lose the best model: without latest.ckpt the phase refuses to start over, and
  // --restart starts from scratch but keeps the better best.ckpt.
  std::filesystem::remove(pretrain / "latest.ckpt");
  const std::string best_bytes = slurp(pretrain / "best.ckpt");
  const CommandResult refused = run_bcqnmt("pretrain --epochs 1" + common);
  CHECK(refused.status == 1);
  CHECK(refused.err.find("--restart") != std::string::npos);
  const CommandResult restarted = run_bcqnmt("pretrain --epochs 1 --restart" + common);
  INFO(restarted.out << restarted.err);
  REQUIRE(restarted.status == 0);
  CHECK(restarted.out.find("stays unless beaten") != std::string::npos);
  CHECK(load_checkpoint(pretrain / "latest.ckpt").epoch == 1);
  CHECK(slurp(pretrain / "best.ckpt") == best_bytes);  // one fresh epoch does not beat three
}

TEST_CASE("a corrupted best.ckpt is named: average does not compare with it, a variant's warning says corrupted") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 2, "keep_epoch_checkpoints": 2)", "", 300, 40);
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  run_bcqnmt_ok("quantize --mode ptq" + t.flags);
  const std::filesystem::path best = t.run / "pretrain" / "best.ckpt";
  std::filesystem::resize_file(best, 5000);
  const CommandResult averaged = run_bcqnmt("average --last 2" + t.flags);
  CHECK(averaged.status == 1);
  CHECK_MESSAGE(averaged.err.rfind("bcqnmt: error: " + best.string() + " is corrupted", 0) == 0, averaged.err);
  CHECK(averaged.out.find("which stays") == std::string::npos);
  const CommandResult translated =
      run_bcqnmt("translate --threads 1 --run " + t.run.string() + " --model 3bit-greedy-ptq", "ka lo .\n");
  CHECK_MESSAGE(translated.err.find("which is now corrupted") != std::string::npos, translated.err);
  CHECK(translated.err.find("has since been replaced") == std::string::npos);
}

// A lost epoch checkpoint is named, not averaged around: with epoch_002.ckpt deleted,
// `average --last 2` used to average epochs [1,3] and exit 0.
TEST_CASE("average refuses epoch checkpoints with a gap") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 3, "keep_epoch_checkpoints": 3)", "", 300, 40);
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  std::filesystem::remove(t.run / "pretrain" / "epoch_002.ckpt");
  const CommandResult averaged = run_bcqnmt("average --last 2" + t.flags);
  CHECK(averaged.status == 1);
  CHECK(count_lines(averaged.err) == 1);
  CHECK_MESSAGE(averaged.err.find("epoch_001.ckpt, then epoch_003.ckpt") != std::string::npos, averaged.err);
}

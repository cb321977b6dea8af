// Run manifests (apps/run_manifest.h): each phase records its resolved config, the
// version, its files by digest and, for a quantized variant, the checkpoint it came from;
// a variant of a replaced pretrain/best.ckpt is flagged, refused on resume and re-derived
// by the pipeline.
#include <doctest/doctest.h>
#include <chrono>
#include <thread>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "apps/run_manifest.h"
#include "core/sha256.h"
#include "optim/checkpoint.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;
namespace fs = std::filesystem;

namespace {

nlohmann::json manifest_of(const fs::path& dir) { return nlohmann::json::parse(slurp(dir / "manifest.json")); }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

void check_files_match(const fs::path& dir, const nlohmann::json& m) {
  for (const auto& [name, digest] : m.at("files").items()) {
    CAPTURE(name);
    CHECK(digest == sha256_file_hex(dir / name));
  }
}

// A tiny run whose variant, quantized for one epoch with `quantize_flags`, derives from a
// pretrain/best.ckpt that more training has since replaced.
TinyRun run_with_stale_variant(const fs::path& dir, const std::string& quantize_flags) {
  const TinyRun t = make_tiny_run(dir, R"("epochs": 1)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  run_bcqnmt_ok("quantize --epochs 1" + quantize_flags + t.flags);
  const fs::path best = t.run / "pretrain" / "best.ckpt";
  const std::string before = sha256_file_hex(best);
  run_bcqnmt_ok("pretrain" + t.flags + " --epochs 4");  // the synthetic task keeps improving
  REQUIRE(sha256_file_hex(best) != before);
  return t;
}

}  // namespace

TEST_CASE("each phase's manifest: resolved config with overrides, version, source checkpoint, files by digest") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 5)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags + " --epochs 1");
  const std::string version = first_line(run_bcqnmt_ok("--version").out);

  const fs::path pretrain = t.run / "pretrain";
  const nlohmann::json p = manifest_of(pretrain);
  CHECK(p.at("phase") == "pretrain");
  CHECK(p.at("version") == version);
  CHECK(p.at("config").at("training").at("epochs") == 1);        // --epochs 1 over the config's 5
  CHECK(p.at("config").at("training").at("patience") == 0);      // a default the config never gave
  CHECK(p.at("config").at("model").at("layer_norm_epsilon").is_number());
  CHECK(p.at("config").at("model").at("norm") == "layer_norm");  // defaults of later keys too
  CHECK(p.at("config").at("model").at("ffn_gate") == false);
  CHECK(p.at("step") == load_checkpoint(pretrain / "latest.ckpt").step);
  check_files_match(pretrain, p);
  CHECK(p.at("files").contains("best.ckpt"));

  run_bcqnmt_ok("quantize --bits 2 --epochs 1" + t.flags);
  const fs::path variant = t.run / "quantized" / "2bit-greedy-projection";
  const nlohmann::json q = manifest_of(variant);
  CHECK(q.at("phase") == "quantize");
  CHECK(q.at("version") == version);
  CHECK(q.at("config").at("quantization").at("bits") == 2);  // the flag, not the config's default 3
  CHECK(q.at("config").at("quantization").at("epochs") == 1);
  CHECK(q.at("source").at("checkpoint") == "pretrain/best.ckpt");
  CHECK(q.at("source").at("step") == load_checkpoint(pretrain / "best.ckpt").step);
  CHECK(q.at("source").at("sha256") == sha256_file_hex(pretrain / "best.ckpt"));
  check_files_match(variant, q);
  CHECK(q.at("files").contains("model.bcq"));
}

TEST_CASE("a model.bcq of a replaced pretrain/best.ckpt: warned by translate and evaluate, refused on resume, re-derived by pipeline") {
  ScratchDir dir;
  const TinyRun t = run_with_stale_variant(dir.path, "");
  const std::string variant = "3bit-greedy-projection";
  const fs::path best = t.run / "pretrain" / "best.ckpt";
  const std::string bcq_before = sha256_file_hex(t.run / "quantized" / variant / "model.bcq");

  for (const std::string& command : {"translate --threads 1 --run " + t.run.string() + " --model " + variant,
                                     "evaluate --limit 2 --model " + variant + t.flags}) {
    const CommandResult r = run_bcqnmt_ok(command, "ka lo .\n");
    CHECK_MESSAGE(r.err.find("derives from " + best.string() + " at step") != std::string::npos, r.err);
  }
  const CommandResult resumed = run_bcqnmt("quantize --epochs 2" + t.flags);
  CHECK(resumed.status == 1);
  CHECK_MESSAGE(resumed.err.find("pass --restart to quantize it afresh") != std::string::npos, resumed.err);

  const CommandResult pipeline = run_bcqnmt_ok("pipeline --config " + t.config.string() + t.flags + " --epochs 4");
  CHECK(pipeline.out.find("pipeline: re-deriving") != std::string::npos);
  CHECK(pipeline.err.find("derives from") == std::string::npos);  // evaluate saw the new model.bcq
  const nlohmann::json q = manifest_of(t.run / "quantized" / variant);
  CHECK(q.at("source").at("sha256") == sha256_file_hex(best));
  CHECK(sha256_file_hex(t.run / "quantized" / variant / "model.bcq") != bcq_before);
}

TEST_CASE("PhaseFiles: a kill before the commit rolls back, after it rolls forward") {
  ScratchDir dir;
  const PhaseFiles files(dir.path);
  write_text(files.staged("best.ckpt"), "best 1");
  write_text(files.staged("model.bcq"), "model 1");
  files.commit({{"step", 1}});
  CHECK(slurp(dir.path / "model.bcq") == "model 1");
  CHECK(files.mismatched_files().empty());

  // Killed before the commit: the staged files are not the manifest's; the old set stays.
  write_text(files.staged("best.ckpt"), "best 2");
  write_text(files.staged("model.bcq"), "model 2");
  CHECK(files.repair().find("uncommitted") != std::string::npos);
  CHECK(slurp(dir.path / "best.ckpt") == "best 1");
  CHECK(slurp(dir.path / "model.bcq") == "model 1");
  CHECK(!fs::exists(files.staged("model.bcq")));

  // Killed after the commit, before the renames: the new set is moved into place.
  write_text(files.staged("best.ckpt"), "best 3");
  write_text(files.staged("model.bcq"), "model 3");
  const std::string manifest_before = slurp(files.manifest_path());
  nlohmann::json record = {{"step", 3}};
  record["files"] = {{"best.ckpt", sha256_hex("best 3")}, {"model.bcq", sha256_hex("model 3")}};
  write_text(files.manifest_path(), record.dump());  // the commit, as commit() writes it
  CHECK(files.repair().find("moved into place") != std::string::npos);
  CHECK(slurp(dir.path / "best.ckpt") == "best 3");
  CHECK(slurp(dir.path / "model.bcq") == "model 3");
  CHECK(files.mismatched_files().empty());
  CHECK(manifest_before != slurp(files.manifest_path()));
}

TEST_CASE("pretrain under other training settings: refused naming --restart; --restart trains them afresh and never loses the better best.ckpt") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 2)");
  // The first settings train slowly (a warm-up of 400 steps, 38 are run), so a restart with
  // the tiny run's 20 can beat them.
  std::string base = slurp(t.config);
  base.replace(base.find(R"("warmup_steps": 20)"), 18, R"("warmup_steps": 400)");
  const auto config_with = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string text = base;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    write_text(dir.path / name, text);
    return " --config " + (dir.path / name).string();
  };
  const std::string first = config_with("first.json", "", "");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain" + first + t.flags);
  const std::string variant = "3bit-greedy-ptq";
  const fs::path pretrain = t.run / "pretrain", best = pretrain / "best.ckpt";
  const auto variant_warning = [&] {
    return run_bcqnmt_ok("translate --threads 1 --run " + t.run.string() + " --model " + variant, "ka lo .\n").err;
  };

  // More epochs and another patience are a resume (resumable_training_keys).
  const CommandResult longer = run_bcqnmt_ok(
      "pretrain" + config_with("longer.json", R"("epochs": 2)", R"("epochs": 3, "patience": 4)") +
      t.flags);
  CHECK_MESSAGE(longer.out.find("resuming from") != std::string::npos, longer.out);
  CHECK(load_checkpoint(pretrain / "latest.ckpt").epoch == 3);
  run_bcqnmt_ok("quantize --mode ptq" + t.flags);
  const std::string best_bytes = slurp(best);
  const double best_value = load_checkpoint(best).metrics.at("val_masked_accuracy");

  // Another warm-up is not: refused, naming the key and --restart, and nothing is written.
  const std::string slow = config_with("slow.json", R"("warmup_steps": 400)", R"("warmup_steps": 100000)");
  const std::string run_config = slurp(t.run / "config.json");
  const CommandResult refused = run_bcqnmt("pretrain" + slow + t.flags);
  CHECK(refused.status == 1);
  CHECK_MESSAGE(refused.err.find("another config") != std::string::npos, refused.err);
  CHECK_MESSAGE(refused.err.find("training.warmup_steps 400 vs 100000") != std::string::npos, refused.err);
  CHECK_MESSAGE(refused.err.find("--restart") != std::string::npos, refused.err);
  CHECK(slurp(t.run / "config.json") == run_config);
  CHECK(run_bcqnmt("pipeline --epochs 3" + slow + t.flags).err.find("--restart") != std::string::npos);

  // --restart trains it afresh, bound to it. A warm-up of 100,000 steps barely moves the
  // weights in one epoch: the better best.ckpt stays, and the variant made from it is current.
  const CommandResult restarted = run_bcqnmt_ok("pretrain --restart --epochs 1" + slow + t.flags);
  CHECK(restarted.out.find("stays unless beaten") != std::string::npos);
  CHECK(load_checkpoint(pretrain / "latest.ckpt").epoch == 1);
  CHECK(slurp(best) == best_bytes);
  CHECK(manifest_of(pretrain).at("config").at("training").at("warmup_steps") == 100000);
  CHECK(nlohmann::json::parse(slurp(t.run / "config.json")).at("training").at("warmup_steps") == 100000);
  CHECK(variant_warning().find("derives from") == std::string::npos);
  // The run is now bound to the new settings: the first config is the one refused.
  CHECK(run_bcqnmt("pretrain" + first + t.flags).err.find("--restart") != std::string::npos);

  // A restart that trains better replaces best.ckpt; the variant of the old one is flagged.
  run_bcqnmt_ok("pretrain --restart --epochs 2" + config_with("fast.json", R"("warmup_steps": 400)", R"("warmup_steps": 20)") + t.flags);
  CHECK(load_checkpoint(best).metrics.at("val_masked_accuracy") > best_value);
  CHECK(manifest_of(pretrain).at("config").at("training").at("warmup_steps") == 20);
  CHECK(variant_warning().find("derives from " + best.string()) != std::string::npos);

  // Another model shape is another run, --restart or not: best.ckpt holds the first shape.
  const CommandResult reshaped =
      run_bcqnmt("pretrain --restart" + config_with("deeper.json", R"("num_layers": 1)", R"("num_layers": 2)") + t.flags);
  CHECK(reshaped.status == 1);
  CHECK_MESSAGE(reshaped.err.find("model.num_layers 1 vs 2") != std::string::npos, reshaped.err);
  CHECK(reshaped.err.find("new --run") != std::string::npos);
}

TEST_CASE("one command writes a run at a time: a second writer is refused, a killed one leaves no lock") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  // A long pretrain in the background (the tiny model trains an epoch in about a second).
  const std::filesystem::path pid_file = dir.path / "pid";
  REQUIRE(std::system(("sh -c '" + std::string(BCQNMT_BINARY) + " pretrain --epochs 200" + t.flags + " > " +
                       (dir.path / "bg.out").string() + " 2>&1 & echo $! > " + pid_file.string() + "'")
                          .c_str()) == 0);
  // The holder notes itself in RUN/.lock once it has the lock (earlier commands left their
  // own note there: the note is not the lock).
  for (int i = 0; i < 100 && slurp(pid_file).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const pid_t holder = std::stoi(slurp(pid_file));
  const std::string note = "(pid " + std::to_string(holder) + ")";
  for (int i = 0; i < 200 && slurp(t.run / ".lock").find(note) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const std::string command : {"pretrain --epochs 200", "vocab", "quantize --epochs 1", "average --last 2"}) {
    const CommandResult second = run_bcqnmt(command + t.flags);
    INFO(command << ": " << second.err);
    CHECK(second.status == 1);
    CHECK(second.err == "bcqnmt: error: run directory " + t.run.string() + " is in use by `bcqnmt pretrain` (pid " +
                            std::to_string(holder) + "); wait for it to end (one command writes a run at a time)\n");
  }
  // Its status lines reach a file while it runs, not only at exit (stdout to a file is
  // block-buffered unless flushed; issue 18 found them missing from a running job's log).
  bool status_seen = false;
  for (int i = 0; i < 200 && !status_seen; ++i) {
    status_seen = slurp(dir.path / "bg.out").find("Epoch ") != std::string::npos;
    if (!status_seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(status_seen);
  CHECK(::kill(holder, 0) == 0);  // still training
  // Readers are not writers: they go on while it trains.
  CHECK(run_bcqnmt("info --run " + t.run.string()).status == 0);
  // A SIGKILL leaves no stale lock: the kernel drops a flock with its process.
  ::kill(holder, SIGKILL);
  for (int i = 0; i < 200 && ::kill(holder, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(run_bcqnmt("vocab" + t.flags).status == 0);
}

// The advice in a stale variant's warning is a command that works: the one that started the
// variant (with the flags that made its settings), plus --restart. It used to be a bare
// `quantize --name V` after deleting checkpoints, which takes the config's settings and is
// refused for a variant made with other flags (here --bits 2 against the config's 3).
TEST_CASE("a stale variant's warning names the command that re-derives it, and that command works") {
  ScratchDir dir;
  const TinyRun t = run_with_stale_variant(dir.path, " --bits 2");
  const std::string variant = "2bit-greedy-projection";
  const std::string translate = "translate --threads 1 --run " + t.run.string() + " --model " + variant;
  const CommandResult stale = run_bcqnmt_ok(translate, "ka lo .\n");
  const std::string lead = "re-derive it with `";
  const auto at = stale.err.find(lead);
  REQUIRE_MESSAGE(at != std::string::npos, stale.err);
  const auto end = stale.err.find('`', at + lead.size());
  std::string advice = stale.err.substr(at + lead.size(), end - at - lead.size());
  MESSAGE("advice: " << advice);
  REQUIRE(advice.rfind("bcqnmt ", 0) == 0);
  CHECK(advice.find(" --bits 2") != std::string::npos);
  CHECK(advice.find(" --restart") != std::string::npos);
  const CommandResult rederived = run_bcqnmt(advice.substr(7) + " --threads 1 --data " + t.data.string());
  CHECK_MESSAGE(rederived.status == 0, rederived.err);
  CHECK(run_bcqnmt_ok(translate, "ka lo .\n").err.find("derives from") == std::string::npos);
}

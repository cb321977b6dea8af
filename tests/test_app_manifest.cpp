// Run manifests (apps/run_manifest.h): each phase records its resolved config, the
// version, its files by digest and, for a quantized variant, the checkpoint it came from;
// a variant of a replaced pretrain/best.ckpt is flagged, refused on resume and re-derived
// by the pipeline.
#include <doctest/doctest.h>

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
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  run_bcqnmt_ok("quantize --epochs 1" + t.flags);
  const std::string variant = "3bit-greedy-projection";
  const fs::path best = t.run / "pretrain" / "best.ckpt";
  const std::string before = sha256_file_hex(best);
  const std::string bcq_before = sha256_file_hex(t.run / "quantized" / variant / "model.bcq");
  run_bcqnmt_ok("pretrain" + t.flags + " --epochs 4");  // the synthetic task keeps improving
  REQUIRE(sha256_file_hex(best) != before);

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

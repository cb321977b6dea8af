// bcqnmt export and --bundle (apps/bundle.h): the bundle translates as the run does, its
// manifest records digests and provenance, tampering is one line and exit 1, and --bundle
// excludes --run.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "tiny_run.h"

using namespace bcqnmt::test;

TEST_CASE("export: the quantized model by default, a bundle that translates as the run, tampering caught") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const std::string input = "kalo mine .\nsuta ri po .\n";
  const std::string fp_run = run_bcqnmt_ok("translate -q --run " + t.run.string(), input).out;

  // No variant yet: the fp model, its weights without the optimizer's moments.
  const auto fp_bundle = dir.path / "fp_bundle";
  CHECK(run_bcqnmt_ok("export --run " + t.run.string() + " --out " + fp_bundle.string()).out.find("model: fp") == 0);
  CHECK(std::filesystem::file_size(fp_bundle / "pretrain" / "best.ckpt") <
        std::filesystem::file_size(t.run / "pretrain" / "best.ckpt") / 2);
  CHECK(run_bcqnmt_ok("translate -q --bundle " + fp_bundle.string(), input).out == fp_run);

  // With a variant of the config's default settings, that one, and nothing else.
  run_bcqnmt_ok("quantize --mode ptq" + t.flags);  // "3bit-greedy-ptq" is not the default name
  run_bcqnmt_ok("quantize --mode projection --epochs 1" + t.flags);
  const auto bundle = dir.path / "bundle";
  const CommandResult exported = run_bcqnmt_ok("export --run " + t.run.string() + " --out " + bundle.string());
  CHECK(exported.out.find("model: 3bit-greedy-projection (the default") == 0);
  const nlohmann::json manifest = nlohmann::json::parse(slurp(bundle / "bundle.json"));
  CHECK(manifest.at("model") == "3bit-greedy-projection");
  CHECK(manifest.at("bit_allocation").at("encoder_ffn") == 3);
  CHECK(manifest.at("bits_per_weight").get<double>() > 3.0);
  CHECK(manifest.at("bits_per_weight").get<double>() < 32.0);
  CHECK(manifest.at("version").get<std::string>().find("bcqnmt ") == 0);
  CHECK(manifest.at("config") == nlohmann::json::parse(slurp(t.run / "config.json")));
  CHECK(manifest.at("files").size() == 5);
  CHECK(manifest.at("files").at("vocab.en.txt") == bcqnmt::sha256_file_hex(bundle / "vocab.en.txt"));
  CHECK(!std::filesystem::exists(bundle / "pretrain"));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path))  // no temporary left
    CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos, entry.path());

  const std::string variant_run =
      run_bcqnmt_ok("translate -q --run " + t.run.string() + " --model 3bit-greedy-projection", input).out;
  CHECK(run_bcqnmt_ok("translate -q --bundle " + bundle.string(), input).out == variant_run);

  // A variant whose training is not over is passed over, with a note, although it has a
  // model.bcq (it used to be exported as "finished" after 1 of 30 epochs). Here its manifest
  // asks for 3 epochs, of which 1 is done.
  const auto variant_manifest = t.run / "quantized" / "3bit-greedy-projection" / "manifest.json";
  const std::string finished_manifest = slurp(variant_manifest);
  nlohmann::json asks_more = nlohmann::json::parse(finished_manifest);
  asks_more["config"]["quantization"]["epochs"] = 3;
  write_text(variant_manifest, asks_more.dump());
  const CommandResult passed_over = run_bcqnmt_ok("export --run " + t.run.string() + " --out " + (dir.path / "b3").string());
  CHECK(passed_over.out.find("export: passing over 3bit-greedy-projection: its training is at epoch 1 of 3") == 0);
  CHECK(passed_over.out.find("model: 3bit-greedy-ptq") != std::string::npos);  // the only finished one
  write_text(variant_manifest, finished_manifest);

  // Two finished variants, neither the default: the user chooses.
  std::filesystem::rename(t.run / "quantized" / "3bit-greedy-projection", t.run / "quantized" / "other");
  const CommandResult ambiguous = run_bcqnmt("export --run " + t.run.string() + " --out " + (dir.path / "b2").string());
  CHECK(ambiguous.status == 1);
  CHECK(ambiguous.err.find("choose one with --model") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.path / "b2"));

  // An existing --out is never overwritten.
  const CommandResult again = run_bcqnmt("export --run " + t.run.string() + " --model fp --out " + bundle.string());
  CHECK(again.status == 1);
  CHECK(again.err.find("exists") != std::string::npos);
  // A --out whose parent does not exist is a typo: refused, nothing created (it used to
  // create the whole path).
  const CommandResult typo =
      run_bcqnmt("export --run " + t.run.string() + " --model fp --out " + (dir.path / "nope" / "b").string());
  CHECK(typo.status == 1);
  CHECK(typo.err.find("does not exist") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.path / "nope"));

  // --bundle excludes --run and --model; one of --run and --bundle is needed.
  CHECK(run_bcqnmt("translate --bundle " + bundle.string() + " --run " + t.run.string(), input).status == 2);
  CHECK(run_bcqnmt("translate --bundle " + bundle.string() + " --model fp", input).status == 2);
  CHECK(run_bcqnmt("translate", input).status == 2);

  // A changed byte anywhere: one line naming the file, exit 1.
  std::string vocab = slurp(bundle / "vocab.en.txt");
  vocab[vocab.size() / 2] ^= 1;
  write_text(bundle / "vocab.en.txt", vocab);
  const CommandResult tampered = run_bcqnmt("translate --bundle " + bundle.string(), input);
  CHECK(tampered.status == 1);
  CHECK(tampered.out.empty());
  CHECK(count_lines(tampered.err) == 1);
  CHECK(tampered.err.find("vocab.en.txt was modified or damaged") != std::string::npos);
  CHECK(run_bcqnmt("translate --bundle " + t.run.string(), input).err.find("is not a bundle") != std::string::npos);

  // A missing file, a manifest that leaves the model out or names a path: exit 1, one line.
  nlohmann::json fp_manifest = nlohmann::json::parse(slurp(fp_bundle / "bundle.json"));
  std::filesystem::remove(fp_bundle / "vocab.pt.txt");
  CHECK(run_bcqnmt("translate --bundle " + fp_bundle.string(), input).err.find("vocab.pt.txt is missing") != std::string::npos);
  fp_manifest["files"].erase("pretrain/best.ckpt");
  write_text(fp_bundle / "bundle.json", fp_manifest.dump());
  CHECK(run_bcqnmt("translate --bundle " + fp_bundle.string(), input).err.find("does not list pretrain/best.ckpt") !=
        std::string::npos);
  fp_manifest["model"] = "../other";
  write_text(fp_bundle / "bundle.json", fp_manifest.dump());
  const CommandResult malformed = run_bcqnmt("translate --bundle " + fp_bundle.string(), input);
  CHECK(malformed.status == 1);
  CHECK(malformed.err.find("not a bundle manifest") != std::string::npos);
}

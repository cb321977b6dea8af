// Several quantized variants of one pretrained model side by side (apps/quantized_variant.h):
// default names from the settings, explicit names, refusal to mix settings under one name,
// post-training quantization, QAT with distillation, picking a variant by name in
// evaluate / translate / info, and the results table of `bcqnmt report`.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tiny_run.h"

using namespace bcqnmt::test;

TEST_CASE("quantized variants coexist in one run and never overwrite each other") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)");
  const auto run = t.run;
  const std::string& common = t.flags;
  run_bcqnmt_ok("vocab --size 200" + common);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + common);

  // Default names say how each variant was made; an explicit name is taken as given.
  run_bcqnmt_ok("quantize --mode ptq --bits 2" + common);
  run_bcqnmt_ok("quantize --mode ptq --bits 3 --name mine" + common);
  run_bcqnmt_ok("quantize --mode ste --bits 2 --epochs 1 --distill 0.5" + common);
  for (const char* name : {"2bit-greedy-ptq", "mine", "2bit-greedy-ste-kd0.5"}) {
    CHECK_MESSAGE(std::filesystem::exists(run / "quantized" / name / "model.bcq"), name);
    CHECK_MESSAGE(std::filesystem::exists(run / "quantized" / name / "settings.json"), name);
  }
  CHECK(nlohmann::json::parse(slurp(run / "quantized" / "mine" / "settings.json")).at("bits").at("encoder_ffn") == 3);

  // The same name with other settings is refused, and the variant is untouched.
  const std::string before = slurp(run / "quantized" / "mine" / "model.bcq");
  const CommandResult clash = run_bcqnmt("quantize --mode ptq --bits 2 --name mine" + common);
  CHECK(clash.status == 1);
  CHECK(count_lines(clash.err) == 1);
  CHECK(clash.err.find("variant \"mine\"") != std::string::npos);
  CHECK(slurp(run / "quantized" / "mine" / "model.bcq") == before);
  // ptq does not train, so training flags are an error rather than silently ignored.
  CHECK(run_bcqnmt("quantize --mode ptq --epochs 2 --name other" + common).status == 2);
  // A missing bit-allocation file is a run-time error found before anything is written.
  const CommandResult missing = run_bcqnmt("quantize --mode ptq --name other --bits-config nowhere.json" + common);
  CHECK(missing.status == 1);
  CHECK(missing.err.find("nowhere.json: cannot open bit allocation file") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run / "quantized" / "other"));

  // Each variant is picked by name; outputs are kept per model.
  run_bcqnmt_ok("evaluate --model mine --split validation --limit 7 --beam 2 --output " + (dir.path / "mine.txt").string() + common);
  CHECK(count_lines(slurp(run / "eval" / "mine.validation.beam2.first7.txt")) == 7);
  CHECK(slurp(dir.path / "mine.txt") == slurp(run / "eval" / "mine.validation.beam2.first7.txt"));
  CHECK(count_lines(slurp(run / "eval" / "ref.validation.first7.txt")) == 7);
  for (const char* model : {"fp", "mine", "2bit-greedy-ste-kd0.5"}) {
    run_bcqnmt_ok("evaluate --model " + std::string(model) + " --samples 0" + common);
    CHECK(std::filesystem::exists(run / "eval" / (std::string(model) + ".test.beam1.txt")));
    CHECK(count_lines(run_bcqnmt_ok("translate --run " + run.string() + " --model " + model, "a b c .\n").out) == 1);
  }
  // translate keeps SIGTERM's default action (only training commands checkpoint first), so
  // a translate waiting on its input stops at once.
  {
    const auto fifo = dir.path / "input.fifo", result = dir.path / "stopped.txt";
    // The writer holds the pipe open without writing, as a user at a prompt would.
    const std::string script = "mkfifo " + fifo.string() + " && { sleep 30 > " + fifo.string() +
                               " & writer=$!; start=$(date +%s); timeout 1 " + BCQNMT_BINARY + " translate --run " +
                               run.string() + " < " + fifo.string() + " > /dev/null 2>&1; status=$?; echo $status " +
                               "$(( $(date +%s) - start )) > " + result.string() + "; kill $writer; }";
    REQUIRE(std::system(("bash -c '" + script + "'").c_str()) >= 0);
    int status = 0, seconds = 99;
    std::istringstream(slurp(result)) >> status >> seconds;
    CHECK(status == 124);  // timeout's SIGTERM ended it
    CHECK(seconds <= 5);
  }
  const CommandResult unknown = run_bcqnmt("translate --run " + run.string() + " --model nope", "a .\n");
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("fp, 2bit-greedy-ptq, 2bit-greedy-ste-kd0.5, mine") != std::string::npos);
  const std::string info = run_bcqnmt_ok("info --run " + run.string()).out;
  for (const char* name : {"2bit-greedy-ptq", "mine", "2bit-greedy-ste-kd0.5"})
    CHECK_MESSAGE(info.find("variant " + std::string(name)) != std::string::npos, info);

  // The metrics log tags each variant's records with its name.
  std::istringstream log(slurp(run / "metrics.jsonl"));
  int kd_validations = 0;
  for (std::string line; std::getline(log, line);) {
    const auto r = nlohmann::json::parse(line);
    kd_validations += r.value("variant", "") == "2bit-greedy-ste-kd0.5" && r.value("kind", "") == "validation";
  }
  CHECK(kd_validations == 1);

  // The results table: one row per model, evaluated ones with their BLEU, each with its command.
  const std::string table = run_bcqnmt_ok("report --run " + run.string()).out;
  INFO(table);
  CHECK(table.find("| fp | 32.00 |") != std::string::npos);
  CHECK(table.find("| 2bit-greedy-ptq |") != std::string::npos);
  CHECK(table.find("`bcqnmt quantize --run " + run.string() + " --name mine --mode ptq --bits 3`") != std::string::npos);
  CHECK(table.find("--mode ste --bits 2 --epochs 1 --distill 0.5`") != std::string::npos);
  // --into replaces only the marked block of a markdown file.
  const auto doc = dir.path / "results.md";
  write_text(doc, "# Results\n<!-- results-table:begin -->\nold\n<!-- results-table:end -->\ntail\n");
  run_bcqnmt_ok("report --run " + run.string() + " --into " + doc.string());
  const std::string updated = slurp(doc);
  CHECK(updated.find("old") == std::string::npos);
  CHECK(updated.find(table) != std::string::npos);
  CHECK(updated.rfind("tail\n") == updated.size() - 5);
  write_text(doc, "no markers\n");
  CHECK(run_bcqnmt("report --run " + run.string() + " --into " + doc.string()).status == 1);
  CHECK(slurp(doc) == "no markers\n");
}

TEST_CASE("info's bits per weight count everything stored: alphas of small groups, fp32 biases and norms") {
  // It used to print only the sign planes' width, "bits 3.00", for group_size 7, where every
  // 7 weights carry 3 fp32 alphas: (3 x 32 + 3 x 7) / 7 = 16.7 bits a weight.
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)", R"("group_size": 7, "mode": "ptq")");
  run_bcqnmt_ok("vocab --size 200" + t.flags);
  run_bcqnmt_ok("pretrain --config " + t.config.string() + t.flags);
  run_bcqnmt_ok("quantize" + t.flags);
  const std::string info = run_bcqnmt_ok("info --run " + t.run.string()).out;
  const std::string label = "bits per weight, everything counted";
  const size_t at = info.find(label);
  REQUIRE(at != std::string::npos);
  const double bits = std::stod(info.substr(info.find("): ", at) + 3));
  INFO(info);
  CHECK(bits > 14.0);  // the alphas' 13.7 bits a weight, plus the signs, biases and norms
  CHECK(bits < 32.0);
  // The per-part table says the same in its bits/weight column; its "sign bits" column holds
  // the width of the sign planes (the trial read a lone "bits 3.00" there as the size).
  REQUIRE(info.find("sign bits  bits/weight") != std::string::npos);
  const size_t total = info.find("\ntotal ");
  REQUIRE(total != std::string::npos);
  std::istringstream row(info.substr(total + 1, info.find('\n', total + 1) - total - 1));
  std::string name;
  double parameters = 0, quantized = 0, fp32 = 0, packed = 0, sign_bits = 0, per_weight = 0;
  row >> name >> parameters >> quantized >> fp32 >> packed >> sign_bits >> per_weight;
  CHECK(sign_bits == doctest::Approx(3.0));
  CHECK(per_weight > 14.0);
}

TEST_CASE("info's hint for an unfinished variant is the command that made it, which resumes it") {
  // It used to say `quantize --name V` alone, which takes the config's settings and is
  // refused for a variant made with other flags.
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  run_bcqnmt_ok("quantize --bits 2 --mode ste --epochs 1" + t.flags);
  // As a variant looks before its first validation: no model.bcq yet.
  std::filesystem::remove(t.run / "quantized" / "2bit-greedy-ste" / "model.bcq");
  const std::string info = run_bcqnmt_ok("info --run " + t.run.string()).out;
  const std::string expected = "bcqnmt quantize --run " + t.run.string() + " --name 2bit-greedy-ste --mode ste --bits 2 --epochs 1";
  INFO(info);
  REQUIRE(info.find("`" + expected + "` resumes it") != std::string::npos);
  CHECK(run_bcqnmt((expected + " --threads 1 --data " + t.data.string()).substr(std::string("bcqnmt ").size())).status == 0);
}

// Resuming a variant under other settings says how to start it afresh, and --restart does:
// the variant's checkpoints and model go and the new settings are recorded (the refusal used
// to name only another --name, and --restart was refused as well).
TEST_CASE("quantize --restart replaces a variant made with other settings; without it the refusal names --restart") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  run_bcqnmt_ok("quantize --mode ptq --bits 3 --name mine" + t.flags);
  const CommandResult clash = run_bcqnmt("quantize --mode ptq --bits 2 --name mine" + t.flags);
  CHECK(clash.status == 1);
  CHECK_MESSAGE(clash.err.find("or pass --restart to replace it") != std::string::npos, clash.err);
  const CommandResult replaced = run_bcqnmt("quantize --mode ptq --bits 2 --name mine --restart" + t.flags);
  CHECK_MESSAGE(replaced.status == 0, replaced.err);
  CHECK(replaced.out.find("was made with other settings") != std::string::npos);
  const auto settings = nlohmann::json::parse(slurp(t.run / "quantized" / "mine" / "settings.json"));
  CHECK(settings.at("bits").at("encoder_ffn") == 2);
  CHECK(run_bcqnmt_ok("info --run " + t.run.string()).out.find("variant mine") != std::string::npos);
}

// Quantization-aware training's learning rate (apps/quantization_config.h): the reference's
// Noam warm-up started again, or a linear decay to zero over the phase. The decay must end
// at the phase's real last step, which on the bucketed batcher varies by epoch, so the test
// reads the rate of every step from the step logs.
TEST_CASE("quantize --lr-schedule linear_decay: warm-up, then a line that ends at the phase's last step") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("log_every": 1, "batcher": "bucketed", "token_budget": 600)",
                                  R"("lr_schedule": "linear_decay", "lr_warmup_steps": 5)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --epochs 1 --config " + t.config.string() + t.flags);
  const double peak = 0.00123456789;  // more digits than a stream prints by default
  const std::string flags = " --mode ste --bits 2 --epochs 2 --lr-schedule linear_decay --learning-rate 0.00123456789";
  run_bcqnmt_ok("quantize" + flags + t.flags);
  // The default name says the schedule, and the peak and warm-up where they are not the defaults.
  const std::string variant = "2bit-greedy-ste-linear_decay-lr0.00123456789-warmup5";
  std::map<int64_t, double> rate;  // step -> learning rate
  std::string command;             // of the "start" record: what `info` and `report` give back
  std::istringstream lines(slurp(t.run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto r = nlohmann::json::parse(line);
    if (r.value("variant", "") != variant) continue;
    if (r.value("kind", "") == "log") rate[r.at("step")] = r.at("learning_rate");
    if (r.value("kind", "") == "start") command = r.at("command");
  }
  const int64_t total = static_cast<int64_t>(rate.size()), warmup = 5;
  REQUIRE(total > 20);
  REQUIRE(rate.rbegin()->first == total);  // one record per step
  for (const auto& [step, lr] : rate) {
    CAPTURE(step);
    const double expected = step <= warmup ? peak * step / warmup : peak * (total + 1 - step) / (total + 1 - warmup);
    CHECK(lr == doctest::Approx(expected).epsilon(1e-9));
  }
  const auto settings = nlohmann::json::parse(slurp(t.run / "quantized" / variant / "settings.json"));
  CHECK(settings.at("lr_schedule") == "linear_decay");
  CHECK(settings.at("learning_rate") == peak);
  // The recorded command, run again, finds the same settings and resumes into nothing.
  REQUIRE(command.find(flags) != std::string::npos);
  CHECK(run_bcqnmt_ok(command.substr(std::string("bcqnmt ").size()) + " --threads 1 --data " + t.data.string())
            .out.find("nothing to train") != std::string::npos);

  // The reference's schedule records no schedule keys, as settings written before they
  // existed, so those variants still resume; --learning-rate without linear_decay is refused.
  run_bcqnmt_ok("quantize --mode ste --bits 2 --epochs 1 --lr-schedule noam" + t.flags);
  const auto noam = nlohmann::json::parse(slurp(t.run / "quantized" / "2bit-greedy-ste" / "settings.json"));
  CHECK_FALSE(noam.contains("lr_schedule"));
  CHECK_FALSE(noam.contains("learning_rate"));
  const CommandResult refused = run_bcqnmt("quantize --mode ste --bits 2 --lr-schedule noam --learning-rate 0.01 --name other" + t.flags);
  CHECK(refused.status == 2);
  CHECK_MESSAGE(refused.err.find("--learning-rate is the peak of --lr-schedule linear_decay") != std::string::npos,
                refused.err);
  CHECK_FALSE(std::filesystem::exists(t.run / "quantized" / "other"));
}

TEST_CASE("the linear decay's keys under the noam schedule, and a warm-up as long as the phase, are said") {
  ScratchDir dir;
  {
    const TinyRun t = make_tiny_run(dir.path / "a", "", R"("learning_rate": 0.001)");
    run_bcqnmt_ok("vocab" + t.flags);
    const CommandResult r = run_bcqnmt("pretrain --epochs 1 --config " + t.config.string() + t.flags);
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.err.find("add \"lr_schedule\": \"linear_decay\" or remove them") != std::string::npos, r.err);
  }
  const TinyRun t = make_tiny_run(dir.path / "b", "", R"("lr_schedule": "linear_decay", "lr_warmup_steps": 1000)");
  run_bcqnmt_ok("vocab" + t.flags);
  run_bcqnmt_ok("pretrain --epochs 1 --config " + t.config.string() + t.flags);
  const std::string out = run_bcqnmt_ok("quantize --mode ste --bits 2 --epochs 1" + t.flags).out;
  CHECK_MESSAGE(out.find("warning: the learning rate's warm-up (1000 steps) is as long as the phase (19 steps)") !=
                    std::string::npos,
                out);
  CHECK(std::filesystem::exists(t.run / "quantized" / "2bit-greedy-ste-linear_decay-warmup1000" / "model.bcq"));
}

// The per-group BCQ sensitivity sweep (quant/group_sensitivity.h): on the tiny model it
// touches exactly one group per row and gives the fp32 weights back bit for bit; then
// `bcqnmt sensitivity` on a run trained for seconds writes sensitivity.json, and `bcqnmt
// plot` draws it as sensitivity.svg.
//
// Not asserted: that a group's 1-bit loss is at least its 2-bit loss. The 2-bit weights are
// closer to fp32 (greedy: 1 bit plus a fit of the residual), but a loss is not monotone in
// the weight error, and on a barely trained model either can be the lower one.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "core/random.h"
#include "core/token_ids.h"
#include "core/variable.h"
#include "quant/bit_allocation.h"
#include "quant/group_sensitivity.h"
#include "quant/quant_error.h"
#include "quant_tiny_model.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The group of a parameter, written out from the model's layout (quant/README.md) rather than
// through bit_group_of, so the sweep's grouping is checked against an independent reading.
// "" for what stays fp32.
std::string group_by_name(const std::string& name) {
  if (ends_with(name, "/embeddings")) return "embedding";
  if (!ends_with(name, "/kernel")) return "";  // biases, LayerNorm
  if (name.rfind("final_layer/", 0) == 0) return "final_layer";
  if (contains(name, "/causal_self_attention/")) return "decoder_self_attention";
  if (contains(name, "/cross_attention/")) return "cross_attention";
  const bool encoder = name.rfind("encoder/", 0) == 0;
  if (contains(name, "/self_attention/")) return encoder ? "encoder_self_attention" : "?";
  if (contains(name, "/ffn/")) return encoder ? "encoder_ffn" : "decoder_ffn";
  return "?";
}

std::map<std::string, std::vector<float>> snapshot(const Transformer& model) {
  std::map<std::string, std::vector<float>> values;
  for (const auto& [name, p] : model.named_parameters()) values[name] = p.value().to_vector();
  return values;
}

// One fixed batch: sentences of 3..7 symbols with [START]/[END], the target the source
// shifted by one symbol, right-padded.
struct FixedBatch {
  IndexTensor source, target_in, target_out;
};
FixedBatch fixed_batch(const ModelConfig& c) {
  Rng rng(11);
  const int64_t b = 6, width = 9;
  FixedBatch batch{{{b, width}, std::vector<int32_t>(b * width, kPadId)},
                   {{b, width}, std::vector<int32_t>(b * width, kPadId)},
                   {{b, width}, std::vector<int32_t>(b * width, kPadId)}};
  for (int64_t n = 0; n < b; ++n) {
    const int len = 3 + static_cast<int>(rng.below(5));
    batch.source.data[n * width] = batch.target_in.data[n * width] = kStartId;
    for (int j = 1; j <= len; ++j) {
      const int32_t s = 4 + static_cast<int32_t>(rng.below(c.src_vocab_size - 4));
      batch.source.data[n * width + j] = s;
      batch.target_in.data[n * width + j] = batch.target_out.data[n * width + j - 1] = 4 + s % (c.tgt_vocab_size - 4);
    }
    batch.source.data[n * width + len + 1] = batch.target_out.data[n * width + len] = kEndId;
  }
  return batch;
}

SensitivityScore evaluate_on(const Transformer& model, const FixedBatch& batch) {
  NoGradGuard no_grad;
  TokenCounts counts;
  const double loss = model.masked_loss(batch.source, batch.target_in, batch.target_out, &counts).value().item();
  return {loss, counts.accuracy()};
}

}  // namespace

TEST_CASE("group_sensitivity quantizes exactly one group per row and restores the weights bit for bit") {
  const ModelConfig config = quant_tiny_config();
  Transformer model(config, 5);
  model.eval();
  const FixedBatch batch = fixed_batch(config);
  const auto before = snapshot(model);

  std::map<std::string, std::set<std::string>> expected;  // group -> parameter names
  std::map<std::string, int64_t> expected_weights;
  for (const auto& [name, p] : model.named_parameters()) {
    const std::string group = group_by_name(name);
    REQUIRE_MESSAGE(group != "?", name);
    if (group.empty()) continue;
    expected[group].insert(name);
    expected_weights[group] += p.numel();
  }
  REQUIRE(expected.size() == bit_allocation_fields().size());  // the tiny model has every group

  std::vector<std::set<std::string>> changed;  // per evaluation, the parameters that differ from fp32
  const SensitivityEvaluation evaluate = [&](Transformer& m) {
    std::set<std::string> differ;
    for (const auto& [name, p] : m.named_parameters())
      if (p.value().to_vector() != before.at(name)) differ.insert(name);
    changed.push_back(differ);
    return evaluate_on(m, batch);
  };
  BcqOptions solver;
  solver.method = BcqMethod::greedy;
  const GroupSensitivity sweep = group_sensitivity(model, {2, 1}, solver, evaluate);

  // (a) every weight is back, bit for bit.
  const auto after = snapshot(model);
  for (const auto& [name, values] : before) {
    INFO(name);
    REQUIRE(after.at(name).size() == values.size());
    CHECK(std::memcmp(after.at(name).data(), values.data(), values.size() * sizeof(float)) == 0);
  }

  // (b) one row per group and width, in bit_allocation_fields() order, each quantizing
  // exactly its group's matrices (and they all changed).
  REQUIRE(sweep.rows.size() == 2 * bit_allocation_fields().size());
  REQUIRE(changed.size() == 1 + sweep.rows.size());
  CHECK(changed.front().empty());  // the baseline is the untouched model
  for (size_t i = 0; i < sweep.rows.size(); ++i) {
    const GroupSensitivityRow& row = sweep.rows[i];
    INFO(row.group << " at " << row.bits << " bits");
    CHECK(row.group == bit_allocation_fields()[i / 2].first);
    CHECK(row.bits == (i % 2 == 0 ? 2 : 1));
    CHECK(row.matrices == static_cast<int64_t>(expected.at(row.group).size()));
    CHECK(row.weights == expected_weights.at(row.group));
    CHECK(changed[i + 1] == expected.at(row.group));
  }

  // (c) the baseline is the unquantized evaluation, and quantizing any one group moves the loss.
  const SensitivityScore fp32 = evaluate_on(model, batch);
  CHECK(sweep.baseline.val_loss == fp32.val_loss);
  CHECK(sweep.baseline.val_masked_accuracy == fp32.val_masked_accuracy);
  for (const GroupSensitivityRow& row : sweep.rows) {
    INFO(row.group << " at " << row.bits << " bits");
    CHECK(row.score.val_loss != sweep.baseline.val_loss);
  }

  // The file form reads back as written.
  const GroupSensitivity read = group_sensitivity_from_json(group_sensitivity_to_json(sweep), "test");
  CHECK(read.solver.method == BcqMethod::greedy);
  REQUIRE(read.rows.size() == sweep.rows.size());
  CHECK(read.rows.back().group == sweep.rows.back().group);
  CHECK(read.rows.back().score.val_loss == sweep.rows.back().score.val_loss);
  CHECK_THROWS_AS(group_sensitivity_from_json(nlohmann::json{{"rows", 1}}, "x.json"), QuantError);
}

TEST_CASE("group_sensitivity restores the weights when the evaluation throws, and rejects bad widths") {
  const ModelConfig config = quant_tiny_config();
  Transformer model(config, 6);
  const auto before = snapshot(model);
  int calls = 0;
  const SensitivityEvaluation failing = [&](Transformer&) -> SensitivityScore {
    if (++calls == 3) throw std::runtime_error("evaluation failed");
    return {};
  };
  CHECK_THROWS_WITH(group_sensitivity(model, {2}, BcqOptions{}, failing), "evaluation failed");
  CHECK(calls == 3);  // it failed with a group quantized
  CHECK(snapshot(model) == before);
  for (int bad : {0, 9}) CHECK_THROWS_AS(group_sensitivity(model, {2, bad}, BcqOptions{}, failing), QuantError);
}

TEST_CASE("bcqnmt sensitivity writes sensitivity.json and plot draws sensitivity.svg") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 1)", R"("bits": 2)", 400, 40);
  const auto run = t.run, plots = dir.path / "plots";
  const std::string& common = t.flags;
  run_bcqnmt_ok("vocab --size 200" + common);

  // Bad input: one line on stderr; status 1 for a run without a model, 2 for bad --bits.
  for (const auto& [flags, says, status] :
       {std::tuple{std::string(""), "pretrain", 1}, std::tuple{std::string(" --bits 2,9"), "--bits", 2},
        std::tuple{std::string(" --bits two"), "--bits", 2}}) {
    const CommandResult r = run_bcqnmt("sensitivity" + flags + common);
    INFO(flags << ": " << r.err);
    CHECK(r.status == status);
    CHECK(count_lines(r.err) == 1);
    CHECK(contains(r.err, says));
  }

  run_bcqnmt_ok("pretrain --config " + t.config.string() + common);
  CHECK(contains(run_bcqnmt_ok("plot --out " + plots.string() + common).out, "no sensitivity.svg"));
  const CommandResult sweep = run_bcqnmt_ok("sensitivity --bits 2,1 --solver greedy" + common);
  MESSAGE(sweep.out);
  CHECK(contains(sweep.out, "fp32 (baseline)"));
  CHECK(contains(sweep.out, "decoder_ffn"));

  const nlohmann::json j = nlohmann::json::parse(slurp(run / "sensitivity.json"));
  CHECK(j.at("solver").at("method") == "greedy");
  CHECK(j.at("validation_pairs") == 40);
  REQUIRE(j.at("rows").size() == 2 * bit_allocation_fields().size());
  for (const nlohmann::json& row : j.at("rows")) CHECK(row.at("matrices").get<int>() > 0);
  // The baseline is pretraining's own validation of best.ckpt (same split, batches and fp32 matmuls).
  std::istringstream metrics(slurp(run / "metrics.jsonl"));
  double logged = -1;
  for (std::string line; std::getline(metrics, line);) {
    const auto r = nlohmann::json::parse(line);
    if (r.value("kind", "") == "validation") logged = r.at("val_loss").get<double>();
  }
  CHECK(j.at("baseline").at("val_loss").get<double>() == doctest::Approx(logged).epsilon(1e-6));

  CHECK(contains(run_bcqnmt_ok("plot --out " + plots.string() + common).out, "sensitivity.svg"));
  const std::string svg = slurp(plots / "sensitivity.svg");
  CHECK(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  for (const char* label : {"fp32 baseline", "1 bit", "2 bits", "encoder_self_attention", "final_layer"})
    CHECK_MESSAGE(contains(svg, label), std::string(label));
  const int rsvg = std::system("rsvg-convert --version > /dev/null 2>&1");
  REQUIRE_MESSAGE(rsvg == 0, "rsvg-convert is missing: apt-get install librsvg2-bin (scripts/setup.sh does)");
  const auto png = plots / "sensitivity.png";
  REQUIRE(std::system(("rsvg-convert -o " + png.string() + " " + (plots / "sensitivity.svg").string()).c_str()) == 0);
  CHECK(slurp(png).rfind("\x89PNG", 0) == 0);
}

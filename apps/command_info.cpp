// bcqnmt info: what the run holds, how big each part is, how many bits per weight.
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/quantized_variant.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

// The packed file's size and, per part, parameters, bytes and bits per weight.
void describe_bcq_model(const std::filesystem::path& path, std::ostream& out) {
  const LoadedBcqModel loaded = load_bcq_model(path, /*kernels=*/false);
  const BcqSizeReport report = bcq_size_report(loaded.bcq, *loaded.model);
  out << path.filename().string() << ": " << report.file_bytes << " bytes (" << std::setprecision(2)
      << static_cast<double>(report.file_bytes) / 1e6 << " MB)\n"
      << std::left << std::setw(16) << "part" << std::right << std::setw(12) << "parameters" << std::setw(12)
      << "quantized" << std::setw(14) << "fp32 bytes" << std::setw(14) << "packed bytes" << std::setw(8) << "bits"
      << "\n";
  int64_t fp32 = 0, packed = 0, quantized = 0;
  double bit_sum = 0.0;
  for (const auto& p : report.parts) {
    out << std::left << std::setw(16) << p.name << std::right << std::setw(12) << p.parameters << std::setw(12)
        << p.quantized_parameters << std::setw(14) << p.fp32_bytes << std::setw(14) << p.packed_bytes << std::setw(8)
        << std::setprecision(2) << p.average_bits << "\n";
    fp32 += p.fp32_bytes;
    packed += p.packed_bytes;
    quantized += p.quantized_parameters;
    bit_sum += p.average_bits * static_cast<double>(p.quantized_parameters);
  }
  // "bits": the mean bit width of the quantized matrices (the sign planes only).
  out << std::left << std::setw(16) << "total" << std::right << std::setw(12) << "" << std::setw(12) << quantized
      << std::setw(14) << fp32 << std::setw(14) << packed << std::setw(8)
      << (quantized ? bit_sum / static_cast<double>(quantized) : 0.0) << "\n"
      << "compression: " << std::setprecision(1)
      << static_cast<double>(fp32) / static_cast<double>(std::max<int64_t>(packed, 1)) << "x\n"
      << "bits per weight, everything counted (8 x " << report.file_bytes << " file bytes / "
      << loaded.model->num_parameters() << " parameters: alphas, fp32 biases and norms, headers): " << std::setprecision(2)
      << 8.0 * static_cast<double>(report.file_bytes) / static_cast<double>(loaded.model->num_parameters()) << "\n";
}

// The command that resumes a quantized variant: the one that started it, as its "start"
// record in metrics.jsonl has it (with the flags that made its settings; a bare
// `quantize --name` would take the config's settings and be refused when they differ).
std::string resume_command(const RunDirectory& run, const std::string& variant) {
  std::string command = "bcqnmt quantize --run " + run.root.string() + " --name " + variant;
  std::ostringstream ignored;  // a torn line is report's and plot's to mention
  try {
    for (const nlohmann::json& r : run.read_metrics(ignored))
      if (r.value("phase", "") == "quantize" && r.value("variant", "") == variant && r.value("kind", "") == "start" &&
          r.contains("command") && r["command"].is_string())
        command = r["command"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw run.metrics_error(e);
  }
  return command;
}

}  // namespace

int run_info(const InfoOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");
  Transformer model(e.model, e.training.seed);
  out << "run " << e.run.root.string() << "\n"
      << "model: " << e.model.num_layers << " layers, d_model " << e.model.d_model << ", dff " << e.model.dff << ", "
      << e.model.num_heads << " heads x key_dim " << e.model.key_dim << ", vocab pt " << e.model.src_vocab_size
      << " / en " << e.model.tgt_vocab_size << "\n"
      << "parameters: " << model.num_parameters() << " (" << std::fixed << std::setprecision(1)
      << 4.0 * static_cast<double>(model.num_parameters()) / 1e6 << " MB in fp32)\n";
  auto describe_checkpoint = [&](const std::filesystem::path& path) {
    if (!std::filesystem::exists(path)) return;
    const Checkpoint c = load_checkpoint(path);
    out << std::filesystem::relative(path, e.run.root).string() << ": step " << c.step << ", epoch " << c.epoch;
    // The validation figures the trainer stored, in the order it logs them (val_bleu only
    // when the config asks for "validation_bleu_pairs").
    for (const char* metric : {"val_masked_accuracy", "val_bleu"})
      if (c.metrics.count(metric)) out << std::setprecision(4) << ", " << metric << " " << c.metrics.at(metric);
    out << "\n";
  };
  for (const char* file : {"latest.ckpt", "best.ckpt"}) describe_checkpoint(e.run.pretrain_dir() / file);
  const std::vector<std::string> variants = finished_variants(e.run);
  if (variants.empty())
    out << "quantized variants: none yet (run `bcqnmt quantize --run " << e.run.root.string() << "`)\n";
  for (const std::string& name : all_variants(e.run))
    if (!std::filesystem::exists(e.run.bcq_model(name)))
      out << "variant " << name << ": in progress or stopped before its first validation (no model.bcq yet; `"
          << resume_command(e.run, name) << "` resumes it)\n";
  for (const std::string& name : variants) {
    out << "\nvariant " << name << " (--model " << name << ")\n";
    for (const char* file : {"latest.ckpt", "best.ckpt"}) describe_checkpoint(e.run.variant_dir(name) / file);
    describe_bcq_model(e.run.bcq_model(name), out);
  }
  return 0;
}

Subcommand add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* c = app.add_subcommand(
      "info", "Parameters and checkpoints of the run; bytes per part and bits per weight of each quantized variant");
  add_run_flag(c, o->run);
  return {c, [o] { return run_info(*o, std::cout); }};
}

}  // namespace bcqnmt

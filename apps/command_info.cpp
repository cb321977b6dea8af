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
#include "apps/run_manifest.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

// The packed file's size and, per part, parameters, bytes and bits per weight: "sign bits" is
// the mean width of the quantized matrices (their sign planes only), "bits/weight" counts
// everything the part stores (8 x packed bytes / parameters: alphas and fp32 biases too).
void describe_bcq_model(const std::filesystem::path& path, std::ostream& out) {
  const LoadedBcqModel loaded = load_bcq_model(path, /*kernels=*/false);
  const BcqSizeReport report = bcq_size_report(loaded.bcq, *loaded.model);
  const std::ios::fmtflags flags = out.flags();
  const std::streamsize precision = out.precision();
  out << std::fixed << std::setprecision(2) << path.filename().string() << ": " << report.file_bytes << " bytes ("
      << static_cast<double>(report.file_bytes) / 1e6 << " MB)\n"
      << std::left << std::setw(16) << "part" << std::right << std::setw(12) << "parameters" << std::setw(12)
      << "quantized" << std::setw(14) << "fp32 bytes" << std::setw(14) << "packed bytes" << std::setw(11)
      << "sign bits" << std::setw(13) << "bits/weight" << "\n";
  auto row = [&out](const std::string& name, int64_t parameters, int64_t quantized, int64_t fp32, int64_t packed,
                    double sign_bits) {
    out << std::left << std::setw(16) << name << std::right << std::setw(12) << parameters << std::setw(12)
        << quantized << std::setw(14) << fp32 << std::setw(14) << packed << std::setw(11) << sign_bits << std::setw(13)
        << 8.0 * static_cast<double>(packed) / static_cast<double>(std::max<int64_t>(parameters, 1)) << "\n";
  };
  int64_t parameters = 0, fp32 = 0, packed = 0, quantized = 0;
  double bit_sum = 0.0;
  for (const auto& p : report.parts) {
    row(p.name, p.parameters, p.quantized_parameters, p.fp32_bytes, p.packed_bytes, p.average_bits);
    parameters += p.parameters;
    fp32 += p.fp32_bytes;
    packed += p.packed_bytes;
    quantized += p.quantized_parameters;
    bit_sum += p.average_bits * static_cast<double>(p.quantized_parameters);
  }
  row("total", parameters, quantized, fp32, packed, quantized ? bit_sum / static_cast<double>(quantized) : 0.0);
  out << "compression: " << std::setprecision(1)
      << static_cast<double>(fp32) / static_cast<double>(std::max<int64_t>(packed, 1)) << "x\n"
      << "bits per weight, everything counted (8 x " << report.file_bytes << " file bytes / "
      << loaded.model->num_parameters() << " parameters: alphas, fp32 biases and norms, headers): " << std::setprecision(2)
      << 8.0 * static_cast<double>(report.file_bytes) / static_cast<double>(loaded.model->num_parameters()) << "\n";
  out.flags(flags);
  out.precision(precision);
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
          << variant_start_command(e.run, name) << "` resumes it)\n";
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

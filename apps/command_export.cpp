// bcqnmt export: one model of a run as a deployable bundle (apps/bundle.h) that `translate
// --bundle` and `serve --bundle` read. Without --model, the quantized one is taken
// (default_export_model) and the choice is printed.
#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>

#include "apps/bundle.h"
#include "apps/command_files.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/model_loading.h"

namespace bcqnmt {

int run_export(const ExportOptions& o, std::ostream& out) {
  // write_bundle refuses an existing --out; a missing parent is a typo, not a request to create it.
  if (!std::filesystem::exists(o.out)) check_output_location("--out", o.out);
  const Experiment e = open_experiment(o.run, "");
  const std::string model = o.model.empty() ? default_export_model(e, out) : o.model;
  out << "model: " << model
      << (o.model.empty() ? " (the default: the config's quantized variant when finished, else the only one, else fp)"
                          : "")
      << "\n";
  load_run_model(e, model);  // it loads before it ships
  write_bundle(e, model, o.out);
  const nlohmann::json manifest = read_bundle_manifest(o.out);
  out << "wrote " << o.out << ": " << manifest["files"].size() << " files, " << std::fixed << std::setprecision(2)
      << manifest["bits_per_weight"].get<double>() << " bits per weight, " << manifest["version"].get<std::string>()
      << "\n";
  return 0;
}

Subcommand add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* c = app.add_subcommand(
      "export", "Write a deployable bundle: one model, its vocabularies, config and a manifest with SHA-256 digests");
  add_run_flag(c, o->run);
  c->add_option("--out", o->out, "Bundle directory to create (must not exist; written atomically)")->required();
  c->add_option("--model", o->model,
                "fp or a quantized variant (default: the config's variant when finished, else the run's only "
                "variant, else fp)");
  return {c, [o] { return run_export(*o, std::cout); }};
}

}  // namespace bcqnmt

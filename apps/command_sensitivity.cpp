// bcqnmt sensitivity: the per-group BCQ sweep (quant/group_sensitivity.h) on the run's fp32
// model. Each parameter group is quantized alone, at each --bits width, with no
// quantization-aware training, and scored on the validation split; the table shows which
// groups tolerate 1 or 2 bits. Writes RUN/sensitivity.json, which `bcqnmt plot` draws.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "apps/run_lock.h"
#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/experiment.h"
#include "apps/trainer.h"
#include "apps/model_loading.h"
#include "core/atomic_file.h"
#include "quant/group_sensitivity.h"

namespace bcqnmt {

namespace {

std::vector<int> parse_bit_widths(const std::string& text) {
  const std::string usage = "--bits \"" + text + "\": expected comma-separated bit widths in 1..8, e.g. 2,1";
  std::vector<int> widths;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    int q = 0;
    try {
      q = std::stoi(item, &used);
    } catch (const std::exception&) {
      throw UsageError(usage);
    }
    if (used != item.size() || q < 1 || q > 8) throw UsageError(usage);
    widths.push_back(q);
  }
  if (widths.empty()) throw UsageError(usage);
  return widths;
}

// One table line: group, bits, matrices, weights, loss, accuracy, loss minus the baseline's.
void print_row(std::ostream& out, const std::string& group, const std::string& bits, const std::string& matrices,
               const std::string& weights, const SensitivityScore& s, const std::string& delta) {
  out << std::left << std::setw(24) << group << std::right << std::setw(5) << bits << std::setw(10) << matrices
      << std::setw(12) << weights << std::fixed << std::setprecision(4) << std::setw(10) << s.val_loss
      << std::setw(10) << s.val_masked_accuracy << std::setw(10) << delta << "\n"
      << std::defaultfloat << std::flush;
}

std::string signed_delta(double d) {
  std::ostringstream s;
  s << std::showpos << std::fixed << std::setprecision(4) << d;
  return s.str();
}

}  // namespace

int run_sensitivity(const SensitivityOptions& o, std::ostream& out) {
  const std::vector<int> bits = parse_bit_widths(o.bits);
  Experiment e = open_experiment(o.run, "");
  std::unique_ptr<Transformer> model = load_run_model(e, "fp");
  const EncodedCorpus validation = load_encoded_split(e, resolve_data_dir(o.data), Split::kValidation,
                                                      o.limit > 0 ? o.limit : e.training.validation_limit);
  if (validation.size() == 0) throw AppError("the validation split has no pairs to evaluate on");

  BcqOptions solver = e.quantization.solver_options();  // solver.bits unused: each sweep row has its own
  if (o.solver) solver.method = bcq_method_names().parse<UsageError>(*o.solver);
  const std::string& solver_name = bcq_method_names().name(solver.method);

  // The trainer's validation pass (same batching, loss and accuracy as training logs),
  // here in fp32 matmuls as inference runs; it trains nothing.
  const Trainer trainer(*model, e.training, validation, validation, e.identity(), e.run);
  const SensitivityEvaluation evaluate = [&](Transformer&) {
    const EvalResult r = trainer.evaluate(validation);
    return SensitivityScore{r.loss, r.masked_accuracy};
  };

  out << "sensitivity: one group at a time at " << o.bits << " bits, no QAT; solver " << solver_name
      << (solver.method == BcqMethod::alternating ? " (" + std::to_string(solver.cycles) + " cycles)" : "") << ", "
      << validation.size() << " validation pairs\n";
  out << std::left << std::setw(24) << "group" << std::right << std::setw(5) << "bits" << std::setw(10) << "matrices"
      << std::setw(12) << "weights" << std::setw(10) << "val_loss" << std::setw(10) << "val_acc" << std::setw(10)
      << "d_loss" << "\n";
  const auto start = std::chrono::steady_clock::now();
  SensitivityScore baseline;
  bool baseline_printed = false;
  const GroupSensitivity sweep = group_sensitivity(
      *model, bits, solver,
      [&](Transformer& m) {
        const SensitivityScore s = evaluate(m);
        if (!baseline_printed) {  // the first evaluation is the unquantized model
          baseline = s;
          baseline_printed = true;
          print_row(out, "fp32 (baseline)", "32", "-", "-", s, "");
        }
        return s;
      },
      [&](const GroupSensitivityRow& r) {
        print_row(out, r.group, std::to_string(r.bits), std::to_string(r.matrices), std::to_string(r.weights), r.score,
                  signed_delta(r.score.val_loss - baseline.val_loss));
      });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nlohmann::json j = group_sensitivity_to_json(sweep);
  j["validation_pairs"] = validation.size();
  j["seconds"] = seconds;
  const auto path = e.run.root / kSensitivityFile;
  write_file_atomically(path, j.dump(2) + "\n");
  out << "sensitivity: " << sweep.rows.size() << " rows in " << std::fixed << std::setprecision(1) << seconds
      << " s; wrote " << path.string() << " (`bcqnmt plot` draws it)\n" << std::defaultfloat;
  return 0;
}

Subcommand add_sensitivity_command(CLI::App& app) {
  auto o = std::make_shared<SensitivityOptions>();
  CLI::App* c = app.add_subcommand("sensitivity", "Per-group BCQ sensitivity: quantize one parameter group at a time "
                                                  "(no QAT) and record the validation loss; writes RUN/sensitivity.json");
  add_run_flag(c, o->run);
  add_data_flag(c, o->data);
  c->add_option("--bits", o->bits, "Comma-separated bit widths to try per group, each 1..8")->capture_default_str();
  c->add_option("--solver", o->solver, "BCQ solver (default: the run's quantization config's)")
      ->check(CLI::IsMember(bcq_method_names().names()));
  c->add_option("--limit", o->limit, "Validation pairs to evaluate on (default: the training config's validation_limit)")
      ->check(kNonNegativeCount);
  return {c, [o] {
            const RunLock lock(o->run, "sensitivity");
            return run_sensitivity(*o, std::cout);
          }};
}

}  // namespace bcqnmt

#include "quant/group_sensitivity.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "nn/json_file.h"
#include "quant/bcq_model.h"
#include "quant/bcq_model_layers.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

// A group's weights with a copy of their fp32 values, written back by restore() and, so that
// a throwing evaluation cannot leave a quantized model behind, by the destructor.
class SavedWeights {
 public:
  explicit SavedWeights(std::vector<QuantizedWeight> weights) : weights_(std::move(weights)) {
    for (const QuantizedWeight& w : weights_) copies_.push_back(w.value.clone());
  }
  SavedWeights(const SavedWeights&) = delete;
  SavedWeights& operator=(const SavedWeights&) = delete;
  ~SavedWeights() { restore(); }

  void restore() {
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i].value.copy_from(copies_[i]);
  }
  const std::vector<QuantizedWeight>& weights() const { return weights_; }

 private:
  std::vector<QuantizedWeight> weights_;  // values share the parameters' storage
  std::vector<Tensor> copies_;
};

// The quantized weights whose group (bit_group_of of their layer path) is `field`.
std::vector<QuantizedWeight> weights_of_group(const Transformer& model, int BitAllocation::*field) {
  std::vector<QuantizedWeight> in_group;
  for (QuantizedWeight& w : bcq_quantized_weights(model)) {
    const BitGroup* group = bit_group_of(w.name.substr(0, w.name.rfind('/')));
    if (group != nullptr && group->bits == field) in_group.push_back(std::move(w));
  }
  return in_group;
}

SensitivityScore score_from_json(const nlohmann::json& j) {
  return {j.at("val_loss").get<double>(), j.at("val_masked_accuracy").get<double>()};
}
nlohmann::json score_to_json(const SensitivityScore& s) {
  return {{"val_loss", s.val_loss}, {"val_masked_accuracy", s.val_masked_accuracy}};
}

}  // namespace

GroupSensitivity group_sensitivity(Transformer& model, const std::vector<int>& bits, const BcqOptions& solver,
                                   const SensitivityEvaluation& evaluate,
                                   const std::function<void(const GroupSensitivityRow&)>& on_row) {
  for (int q : bits)
    if (q < 1 || q > 8) throw QuantError("sensitivity: bit widths must be in 1..8, got " + std::to_string(q));
  GroupSensitivity result;
  result.solver = solver;
  result.baseline = evaluate(model);
  for (const auto& [key, field] : bit_allocation_fields()) {
    SavedWeights saved(weights_of_group(model, field));
    if (saved.weights().empty()) continue;
    for (int q : bits) {
      QuantizeSettings settings;  // no embedding clusters: plain per-row embeddings
      settings.bits = BitAllocation::uniform(q);
      settings.solver = solver;
      GroupSensitivityRow row{key, q, 0, 0, {}};
      for (const QuantizedWeight& w : saved.weights()) {
        Tensor live = w.value;  // shares the parameter's storage
        live.copy_from(bcq_dequantize_parameter(w, bcq_quantize_parameter(w, live, settings)));
        ++row.matrices;
        row.weights += live.numel();
      }
      row.score = evaluate(model);
      saved.restore();
      result.rows.push_back(row);
      if (on_row) on_row(row);
    }
  }
  return result;
}

nlohmann::json group_sensitivity_to_json(const GroupSensitivity& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const GroupSensitivityRow& r : s.rows) {
    nlohmann::json row{{"group", r.group}, {"bits", r.bits}, {"matrices", r.matrices}, {"weights", r.weights}};
    row.update(score_to_json(r.score));
    rows.push_back(std::move(row));
  }
  return {{"solver",
           {{"method", bcq_method_names().name(s.solver.method)}, {"cycles", s.solver.cycles}, {"group_size", s.solver.group_size}}},
          {"baseline", score_to_json(s.baseline)},
          {"rows", std::move(rows)}};
}

GroupSensitivity group_sensitivity_from_json(const nlohmann::json& j, const std::string& source) {
  GroupSensitivity s;
  try {
    const nlohmann::json& solver = j.at("solver");
    s.solver.method = bcq_method_names().parse<QuantError>(solver.at("method").get<std::string>(), source + ": ");
    s.solver.cycles = solver.at("cycles").get<int>();
    s.solver.group_size = solver.at("group_size").get<int64_t>();
    s.baseline = score_from_json(j.at("baseline"));
    for (const nlohmann::json& r : j.at("rows"))
      s.rows.push_back({r.at("group").get<std::string>(), r.at("bits").get<int>(), r.at("matrices").get<int64_t>(),
                        r.at("weights").get<int64_t>(), score_from_json(r)});
  } catch (const nlohmann::json::exception& e) {
    throw QuantError(source + ": not a sensitivity sweep (" + json_error_text(e) + "); rerun `bcqnmt sensitivity`");
  } catch (const QuantError& e) {
    throw QuantError(source + ": " + e.what());
  }
  return s;
}

}  // namespace bcqnmt

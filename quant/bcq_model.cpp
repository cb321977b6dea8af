#include "quant/bcq_model.h"

#include "core/ops.h"
#include "quant/bcq_model_layers.h"
#include "quant/frequency_clusters.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A weight matrix's name as its layer registers it (Linear "kernel", Embedding "embeddings"),
// for bits_for_parameter's name -> group rule.
bool is_weight_matrix(const std::string& name) { return ends_with(name, "/kernel") || ends_with(name, "/embeddings"); }

Tensor transposed(const Tensor& t) { return transpose(Variable(t), 0, 1).value(); }  // [a, b] -> [b, a]

std::vector<int> row_bits(const QuantizedWeight& w, int64_t rows, const QuantizeSettings& settings) {
  bool quantized = false;
  const int bits = bits_for_parameter(w.name, settings.bits, &quantized);
  if (!quantized) throw QuantError("'" + w.name + "' is not a quantized parameter (biases and LayerNorm stay fp32)");
  if (!w.token_rows || !settings.bits.embedding_uses_clusters()) return std::vector<int>(static_cast<size_t>(rows), bits);
  const bool source = starts_with(w.name, "encoder/");
  const std::vector<int64_t>& counts = source ? settings.source_token_counts : settings.target_token_counts;
  if (static_cast<int64_t>(counts.size()) != rows)
    throw QuantError("frequency-clustered '" + w.name + "' needs " + std::to_string(rows) + " " +
                     (source ? "source" : "target") + " token counts (one per vocabulary id), got " +
                     std::to_string(counts.size()));
  return frequency_cluster_bits(counts, settings.bits.embedding_cluster_ratio);
}

// Which part of the model a parameter belongs to, for the size report.
std::string part_of(const std::string& name) {
  if (ends_with(name, "/embeddings")) return "embeddings";
  return name.substr(0, name.find('/'));  // encoder, decoder, final_layer
}

}  // namespace

int bits_for_parameter(const std::string& name, const BitAllocation& bits, bool* quantized) {
  *quantized = false;
  if (ends_with(name, "/bias") || ends_with(name, "/gamma") || ends_with(name, "/beta")) return 0;
  const BitGroup* group = bit_group_of(name.substr(0, name.rfind('/')));
  if (!is_weight_matrix(name) || group == nullptr)
    throw QuantError("no bit group for the weight '" + name + "' (give its sub-layer a rule in quant/bit_allocation.cpp)");
  *quantized = true;
  return bits.*(group->bits);
}

Tensor bcq_rows_first(const QuantizedWeight& w, const Tensor& value) {
  if (value.dim() != 2 || value.shape() != w.shape)
    throw QuantError("'" + w.name + "' has shape " + shape_str(value.shape()) + ", expected the matrix " + shape_str(w.shape));
  return w.output_axis == OutputAxis::columns ? transposed(value) : value;  // [out, in] or [V, D]
}

BcqMixedMatrix bcq_quantize_parameter(const QuantizedWeight& w, const Tensor& value, const QuantizeSettings& settings) {
  const Tensor rows_first = bcq_rows_first(w, value);
  const int64_t rows = rows_first.size(0), cols = rows_first.size(1);
  return bcq_quantize_mixed(rows_first.data(), rows, cols, row_bits(w, rows, settings), settings.solver);
}

std::pair<int64_t, int64_t> bcq_quantized_shape(const QuantizedWeight& w) {
  return w.output_axis == OutputAxis::columns ? std::pair{w.shape[1], w.shape[0]} : std::pair{w.shape[0], w.shape[1]};
}

Tensor bcq_dequantize_parameter(const QuantizedWeight& w, const BcqMixedMatrix& m) {
  if (bcq_quantized_shape(w) != std::pair{m.rows, m.cols})
    throw QuantError("'" + w.name + "' is quantized as [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                     "] but the model's is " + shape_str(w.shape));
  const Tensor rows_first = m.dequantize();
  return w.output_axis == OutputAxis::columns ? transposed(rows_first) : rows_first;
}

BcqModel BcqModel::quantize(const Transformer& model, const QuantizeSettings& settings) {
  std::map<std::string, BcqMixedMatrix> matrices;
  for (const QuantizedWeight& w : bcq_quantized_weights(model))
    matrices.emplace(w.name, bcq_quantize_parameter(w, w.value, settings));
  return BcqModel(std::move(matrices));
}

void BcqModel::write_dequantized(Transformer& model) const {
  for (QuantizedWeight& w : bcq_quantized_weights(model)) {
    const auto it = matrices_.find(w.name);
    if (it == matrices_.end()) continue;
    if (!w.value.defined()) throw QuantError("'" + w.name + "' is packed: there is no dense weight to write");
    w.value.copy_from(bcq_dequantize_parameter(w, it->second));
  }
}

BcqSizeReport bcq_size_report(const BcqModel& bcq, const Transformer& model) {
  BcqSizeReport report;
  std::map<std::string, BcqSizeReport::Part> parts;
  std::map<std::string, double> bit_sums;
  std::vector<std::pair<std::string, int64_t>> sizes;  // every weight, dense or packed
  for (const auto& [name, p] : model.named_parameters()) sizes.emplace_back(name, p.numel());
  for (const auto& [name, shape] : model.named_packed_weights()) sizes.emplace_back(name, shape_numel(shape));
  for (const auto& [name, numel] : sizes) {
    BcqSizeReport::Part& part = parts[part_of(name)];
    const auto it = bcq.matrices().find(name);
    if (it == bcq.matrices().end()) {
      part.parameters += numel;
      part.packed_bytes += numel * static_cast<int64_t>(sizeof(float));
      continue;
    }
    const BcqMixedMatrix& m = it->second;
    const int64_t n = m.rows * m.cols;
    part.parameters += n;
    part.quantized_parameters += n;
    part.packed_bytes += m.storage_bytes();
    bit_sums[part_of(name)] += m.average_bits() * static_cast<double>(n);
  }
  for (const char* name : {"embeddings", "encoder", "decoder", "final_layer"}) {
    if (!parts.count(name)) continue;
    BcqSizeReport::Part part = parts[name];
    part.name = name;
    part.fp32_bytes = part.parameters * static_cast<int64_t>(sizeof(float));
    if (part.quantized_parameters > 0)
      part.average_bits = bit_sums[name] / static_cast<double>(part.quantized_parameters);
    report.parts.push_back(part);
  }
  report.file_bytes = bcq_file_bytes(bcq, model);
  return report;
}

}  // namespace bcqnmt

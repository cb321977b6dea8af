// Saving and loading a BcqModel with its Transformer as a .bcq file (the format is
// quant/bcq_file.h). Loading checks the structure against the model config the file
// carries -- every parameter present once, each matrix's shape before its row table is
// built, each piece's bits, group size and sizes -- so a damaged file is a QuantError
// naming it, never a crash.
#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/quoted_text.h"
#include "nn/json_file.h"
#include "quant/bcq_file.h"
#include "quant/bcq_model.h"
#include "quant/bcq_model_kernels.h"
#include "quant/bcq_model_layers.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

StoredMatrix stored(const std::string& name, const BcqMixedMatrix& m) {
  StoredMatrix s{name, m.rows, m.cols, m.pieces, {}};
  if (m.pieces.size() > 1) {
    if (m.pieces.size() > 255) throw QuantError("'" + name + "' has more than 255 bit widths");
    s.piece_of_row.assign(m.piece_of_row.begin(), m.piece_of_row.end());
  }
  return s;
}

// The Transformer's weights in the file's form: every parameter (dense, or a matrix when
// `bcq` quantizes it) in parameter order, then every packed weight (a model loaded with
// kernels), whose only form is `bcq`'s.
BcqFile file_of(const BcqModel& bcq, const Transformer& model, uint64_t source_fp, uint64_t target_fp) {
  BcqFile file{model.config().to_json().dump(), source_fp, target_fp, {}, {}};
  const std::map<std::string, QuantizedWeight> weights = bcq_quantized_weights_by_name(model);
  auto add_matrix = [&](const std::string& name, const BcqMixedMatrix& m) {
    const auto w = weights.find(name);
    if (w == weights.end()) throw QuantError("'" + name + "' is quantized but the model has no Linear or Embedding weight of that name");
    if (bcq_quantized_shape(w->second) != std::pair{m.rows, m.cols})
      throw QuantError("'" + name + "' is quantized as [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                       "] but the model's is " + shape_str(w->second.shape));
    file.matrices.push_back(stored(name, m));
  };
  for (const auto& [name, p] : model.named_parameters()) {
    const auto it = bcq.matrices().find(name);
    if (it == bcq.matrices().end())
      file.dense.push_back({name, p.value().shape(), p.value().to_vector()});
    else
      add_matrix(name, it->second);
  }
  for (const auto& [name, shape] : model.named_packed_weights()) {
    const auto it = bcq.matrices().find(name);
    if (it == bcq.matrices().end()) throw QuantError("'" + name + "' is packed but the BCQ model holds no form of it");
    add_matrix(name, it->second);
  }
  if (file.matrices.size() != bcq.matrices().size())
    throw QuantError("the BCQ model holds matrices the Transformer has no parameter for");
  return file;
}

// The row tables of a stored matrix whose shape already matched the model's, so `rows`
// is bounded by the model config before anything of that size is allocated.
BcqMixedMatrix restored(StoredMatrix s, const std::string& where) {
  const std::string what = where + ": '" + s.name + "'";
  BcqMixedMatrix m;
  m.rows = s.rows;
  m.cols = s.cols;
  m.pieces = std::move(s.pieces);
  if (m.pieces.empty()) throw QuantError(what + " has no pieces");
  if (s.piece_of_row.empty() && m.pieces.size() == 1) s.piece_of_row.assign(static_cast<size_t>(s.rows), 0);
  if (static_cast<int64_t>(s.piece_of_row.size()) != s.rows)
    throw QuantError(what + " has " + std::to_string(s.piece_of_row.size()) + " row entries for " +
                     std::to_string(s.rows) + " rows");
  std::vector<int32_t> next(m.pieces.size(), 0);
  for (uint8_t p : s.piece_of_row) {
    if (p >= m.pieces.size())
      throw QuantError(what + " names piece " + std::to_string(p) + " of " + std::to_string(m.pieces.size()));
    m.piece_of_row.push_back(p);
    m.row_in_piece.push_back(next[p]++);
  }
  m.validate(what.c_str());
  return m;
}

// The Transformer the file's config describes. Its weights are allocated only when the
// file can hold them: at least one sign bit per quantized weight, 32 bits per dense one.
std::unique_ptr<Transformer> model_of(const BcqFile& file, const std::string& where) {
  nlohmann::json stored;
  if (std::string error = parse_json_text(file.config_json, where + ": the model config stored in it", stored);
      !error.empty())
    throw QuantError(error);
  ModelConfig config;
  try {
    config = ModelConfig::from_json(stored);
  } catch (const std::exception& e) {
    throw QuantError(where + ": bad model config: " + json_error_text(e));
  }
  int64_t stored_weights = 0;
  for (const StoredMatrix& s : file.matrices)
    for (const BcqMatrix& m : s.pieces) stored_weights += 64 * static_cast<int64_t>(m.signs.size());
  for (const StoredTensor& t : file.dense) stored_weights += static_cast<int64_t>(t.values.size());
  if (config.matrix_weights() > stored_weights)
    throw QuantError(where + ": the model config describes " + std::to_string(config.matrix_weights()) +
                     " weights but the file stores at most " + std::to_string(stored_weights));
  return std::make_unique<Transformer>(config, 0);
}

// Each stored matrix checked against the shape the model config gives its parameter, then
// restored; each dense tensor indexed by name. Names the model lacks, and names stored
// twice, are errors.
struct StoredParameters {
  std::map<std::string, BcqMixedMatrix> matrices;
  std::map<std::string, const StoredTensor*> dense;
};

StoredParameters index_parameters(BcqFile& file, const Transformer& model, const std::string& where) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, p] : model.named_parameters()) shapes[name] = p.value().shape();
  const std::map<std::string, QuantizedWeight> weights = bcq_quantized_weights_by_name(model);
  auto shape_of = [&](const std::string& name) -> const Shape& {
    const auto it = shapes.find(name);
    if (it == shapes.end())
      throw QuantError(where + ": holds '" + quoted_text(name) + "', which the model has no parameter for");
    return it->second;
  };
  StoredParameters stored;
  for (StoredMatrix& s : file.matrices) {
    const std::string name = s.name;
    const Shape& shape = shape_of(name);
    const auto w = weights.find(name);
    if (w == weights.end() || bcq_quantized_shape(w->second) != std::pair{s.rows, s.cols})
      throw QuantError(where + ": '" + name + "' is stored as [" + std::to_string(s.rows) + ", " +
                       std::to_string(s.cols) + "] but the model config gives " + shape_str(shape));
    if (stored.dense.count(name) || !stored.matrices.emplace(name, restored(std::move(s), where)).second)
      throw QuantError(where + ": '" + name + "' is stored twice");
  }
  for (const StoredTensor& t : file.dense) {
    const Shape& shape = shape_of(t.name);
    if (t.shape != shape || static_cast<int64_t>(t.values.size()) != shape_numel(shape))
      throw QuantError(where + ": '" + t.name + "' is stored as " + shape_str(t.shape) + " with " +
                       std::to_string(t.values.size()) + " values but the model config gives " + shape_str(shape));
    if (stored.matrices.count(t.name) || !stored.dense.emplace(t.name, &t).second)
      throw QuantError(where + ": '" + t.name + "' is stored twice");
  }
  return stored;
}

// Gives the model's quantized weight `w` its values: its Linear or Embedding packed into a
// lookup-table kernel, or the dequantized values in the dense weight.
void install_matrix(LoadedBcqModel& loaded, const BcqModelLayers& layers, const QuantizedWeight& w,
                    const BcqMixedMatrix& m, bool kernels) {
  if (!kernels) {
    Tensor(w.value).copy_from(bcq_dequantize_parameter(w, m));
  } else if (const auto linear = layers.linears.find(w.name); linear != layers.linears.end()) {
    auto kernel = std::make_shared<BcqLinearKernel>(m, linear->second->bias());
    loaded.kernel_bytes += kernel->storage_bytes();
    linear->second->pack(std::move(kernel));
  } else {
    auto lookup = std::make_shared<BcqEmbeddingLookup>(m);
    loaded.kernel_bytes += lookup->storage_bytes();
    layers.embeddings.at(w.name)->pack(std::move(lookup));
  }
}

}  // namespace

int64_t bcq_file_bytes(const BcqModel& bcq, const Transformer& model) {
  constexpr int64_t kEnvelopeBytes = 8 + 4 + 8 + 8;  // magic, version, length | checksum
  return kEnvelopeBytes + static_cast<int64_t>(encode_bcq_payload(file_of(bcq, model, 0, 0)).size());
}

void BcqModel::save(const std::filesystem::path& path, const Transformer& model, uint64_t source_vocab_fingerprint,
                    uint64_t target_vocab_fingerprint) const {
  BcqFile file;
  try {
    file = file_of(*this, model, source_vocab_fingerprint, target_vocab_fingerprint);
  } catch (const QuantError& e) {
    throw QuantError(path.string() + ": not saved: " + e.what());
  }
  write_bcq_file(path, file);
}

LoadedBcqModel load_bcq_model(const std::filesystem::path& path, bool kernels) {
  const std::string where = path.string();
  BcqFile file = read_bcq_file(path);
  LoadedBcqModel loaded;
  loaded.source_vocab_fingerprint = file.source_vocab_fingerprint;
  loaded.target_vocab_fingerprint = file.target_vocab_fingerprint;
  loaded.model = model_of(file, where);
  StoredParameters stored = index_parameters(file, *loaded.model, where);
  const std::map<std::string, QuantizedWeight> weights = bcq_quantized_weights_by_name(*loaded.model);
  const BcqModelLayers layers = bcq_model_layers(*loaded.model);
  for (auto& [name, p] : loaded.model->named_parameters()) {
    if (const auto d = stored.dense.find(name); d != stored.dense.end()) {
      p.value().copy_from(Tensor::from(d->second->shape, d->second->values));
    } else if (const auto m = stored.matrices.find(name); m != stored.matrices.end()) {
      install_matrix(loaded, layers, weights.at(name), m->second, kernels);
    } else {
      throw QuantError(where + ": parameter '" + name + "' is missing");
    }
  }
  loaded.bcq = BcqModel(std::move(stored.matrices));
  return loaded;
}

}  // namespace bcqnmt

// The .bcq file: the checksummed envelope of core/checksummed_file.h (magic "BCQNMTBQ")
// around a cereal portable binary archive of BcqFile below.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <nlohmann/json.hpp>

#include "core/checksummed_file.h"
#include "core/error.h"
#include "quant/bcq_model.h"
#include "quant/bcq_model_kernels.h"
#include "quant/bcq_model_layers.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

constexpr uint32_t kBcqFormatVersion = 1;
const FileEnvelope kBcqEnvelope{{'B', 'C', 'Q', 'N', 'M', 'T', 'B', 'Q'}, kBcqFormatVersion, "BCQ model"};

// A BcqMixedMatrix without its two int32 row tables (8 bytes a row, ~0.5 MB for the small
// model): rows are gathered into pieces in their original order, so a row's index inside
// its piece is the count of earlier rows in the same piece and one byte per row (none when
// there is a single piece) says everything.
struct StoredMatrix {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<BcqMatrix> pieces;
  std::vector<uint8_t> piece_of_row;  // [rows], or empty for a single piece

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, rows, cols, pieces, piece_of_row);
  }
};

struct StoredTensor {
  std::string name;
  Shape shape;
  std::vector<float> values;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, shape, values);
  }
};

struct BcqFile {
  std::string config_json;  // nn/model_config.h to_json, vocabulary sizes included
  uint64_t source_vocab_fingerprint = 0, target_vocab_fingerprint = 0;
  std::vector<StoredMatrix> matrices;  // every quantized parameter
  std::vector<StoredTensor> dense;     // every other parameter (biases, LayerNorm), fp32

  template <class Archive>
  void serialize(Archive& ar) {
    ar(config_json, source_vocab_fingerprint, target_vocab_fingerprint, matrices, dense);
  }
};

StoredMatrix stored(const std::string& name, const BcqMixedMatrix& m) {
  StoredMatrix s{name, m.rows, m.cols, m.pieces, {}};
  if (m.pieces.size() > 1) {
    if (m.pieces.size() > 255) throw QuantError("'" + name + "' has more than 255 bit widths");
    s.piece_of_row.assign(m.piece_of_row.begin(), m.piece_of_row.end());
  }
  return s;
}

BcqMixedMatrix restored(StoredMatrix s, const std::string& where) {
  BcqMixedMatrix m;
  m.rows = s.rows;
  m.cols = s.cols;
  m.pieces = std::move(s.pieces);
  if (s.piece_of_row.empty()) s.piece_of_row.assign(static_cast<size_t>(std::max<int64_t>(s.rows, 0)), 0);
  if (static_cast<int64_t>(s.piece_of_row.size()) != s.rows)
    throw QuantError(where + ": '" + s.name + "' has " + std::to_string(s.piece_of_row.size()) +
                     " row entries for " + std::to_string(s.rows) + " rows");
  std::vector<int32_t> next(m.pieces.size(), 0);
  for (uint8_t p : s.piece_of_row) {
    if (p >= m.pieces.size())
      throw QuantError(where + ": '" + s.name + "' names piece " + std::to_string(p) + " of " +
                       std::to_string(m.pieces.size()));
    m.piece_of_row.push_back(p);
    m.row_in_piece.push_back(next[p]++);
  }
  m.validate((where + ": '" + s.name + "'").c_str());
  return m;
}

std::string payload_of(const BcqModel& bcq, const Transformer& model, uint64_t source_fp, uint64_t target_fp) {
  BcqFile file{model.config().to_json().dump(), source_fp, target_fp, {}, {}};
  for (const auto& [name, p] : model.named_parameters()) {
    const auto it = bcq.matrices().find(name);
    if (it == bcq.matrices().end()) {
      file.dense.push_back({name, p.value().shape(), p.value().to_vector()});
      continue;
    }
    const bool released = !p.value().defined();  // loaded with kernels: only the packed form exists
    if (!released && bcq_quantized_shape(name, p.value().shape()) != std::pair{it->second.rows, it->second.cols})
      throw QuantError("'" + name + "' is quantized as [" + std::to_string(it->second.rows) + ", " +
                       std::to_string(it->second.cols) + "] but the model's is " + shape_str(p.value().shape()));
    file.matrices.push_back(stored(name, it->second));
  }
  if (file.matrices.size() != bcq.matrices().size())
    throw QuantError("the BCQ model holds matrices the Transformer has no parameter for");
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(file);
  }
  return std::move(out).str();
}

}  // namespace

int64_t bcq_file_bytes(const BcqModel& bcq, const Transformer& model) {
  constexpr int64_t kEnvelopeBytes = 8 + 4 + 8 + 8;  // magic, version, length | checksum
  return kEnvelopeBytes + static_cast<int64_t>(payload_of(bcq, model, 0, 0).size());
}

void BcqModel::save(const std::filesystem::path& path, const Transformer& model, uint64_t source_vocab_fingerprint,
                    uint64_t target_vocab_fingerprint) const {
  std::string payload;
  try {
    payload = payload_of(*this, model, source_vocab_fingerprint, target_vocab_fingerprint);
  } catch (const QuantError& e) {
    throw QuantError(path.string() + ": not saved: " + e.what());
  }
  try {
    write_checksummed_file(path, kBcqEnvelope, payload);
  } catch (const CoreError& e) {
    throw QuantError(e.what());
  }
}

LoadedBcqModel load_bcq_model(const std::filesystem::path& path, bool kernels) {
  const std::string where = path.string();
  BcqFile file;
  try {
    std::istringstream in(read_checksummed_file(path, kBcqEnvelope), std::ios::binary);
    cereal::PortableBinaryInputArchive archive(in);
    archive(file);
  } catch (const CoreError& e) {
    throw QuantError(e.what());
  } catch (const std::exception& e) {
    throw QuantError(where + ": unreadable payload despite a valid checksum (written by another build?): " + e.what());
  }

  LoadedBcqModel loaded;
  loaded.source_vocab_fingerprint = file.source_vocab_fingerprint;
  loaded.target_vocab_fingerprint = file.target_vocab_fingerprint;
  try {
    loaded.model = std::make_unique<Transformer>(ModelConfig::from_json(nlohmann::json::parse(file.config_json)), 0);
  } catch (const std::exception& e) {
    throw QuantError(where + ": bad model config: " + e.what());
  }
  Transformer& model = *loaded.model;

  std::map<std::string, BcqMixedMatrix> matrices;
  for (StoredMatrix& s : file.matrices) {
    const std::string name = s.name;
    if (!matrices.emplace(name, restored(std::move(s), where)).second)
      throw QuantError(where + ": '" + name + "' is stored twice");
  }
  std::map<std::string, StoredTensor*> dense;
  for (StoredTensor& t : file.dense)
    if (!dense.emplace(t.name, &t).second) throw QuantError(where + ": '" + t.name + "' is stored twice");

  const BcqModelLayers layers = bcq_model_layers(model);
  std::set<std::string> used;
  for (auto& [name, p] : model.named_parameters()) {
    used.insert(name);
    const Shape shape = p.value().shape();
    if (const auto d = dense.find(name); d != dense.end()) {
      if (d->second->shape != shape || static_cast<int64_t>(d->second->values.size()) != shape_numel(shape))
        throw QuantError(where + ": '" + name + "' is stored as " + shape_str(d->second->shape) +
                         " but the model config gives " + shape_str(shape));
      p.value().copy_from(Tensor::from(shape, d->second->values));
      continue;
    }
    const auto m = matrices.find(name);
    if (m == matrices.end()) throw QuantError(where + ": parameter '" + name + "' is missing");
    if (bcq_quantized_shape(name, shape) != std::pair{m->second.rows, m->second.cols})
      throw QuantError(where + ": '" + name + "' is stored as [" + std::to_string(m->second.rows) + ", " +
                       std::to_string(m->second.cols) + "] but the model config gives " + shape_str(shape));
    // nn never reads a dense weight whose inference hook is set while gradients are off.
    if (const auto linear = layers.linears.find(name); kernels && linear != layers.linears.end()) {
      auto kernel = std::make_shared<BcqLinearKernel>(m->second, linear->second->bias());
      loaded.kernel_bytes += kernel->storage_bytes();
      linear->second->set_inference_kernel(std::move(kernel));
      p.value() = Tensor();
    } else if (const auto embedding = layers.embeddings.find(name); kernels && embedding != layers.embeddings.end()) {
      auto lookup = std::make_shared<BcqEmbeddingLookup>(m->second);
      loaded.kernel_bytes += lookup->storage_bytes();
      embedding->second->set_inference_lookup(std::move(lookup));
      p.value() = Tensor();
    } else {
      p.value().copy_from(bcq_dequantize_parameter(name, m->second));
    }
  }
  for (const auto& [name, m] : matrices)
    if (!used.count(name)) throw QuantError(where + ": holds '" + name + "', which the model has no parameter for");
  for (const auto& [name, t] : dense)
    if (!used.count(name)) throw QuantError(where + ": holds '" + name + "', which the model has no parameter for");
  loaded.bcq = BcqModel(std::move(matrices));
  return loaded;
}

}  // namespace bcqnmt

#pragma once
// The payload of a .bcq file, as stored: the checksummed envelope of core/checksummed_file.h
// (magic "BCQNMTBQ") around a cereal portable binary archive of BcqFile below. Reading it
// checks every size it finds against the bytes that are left before allocating, so a
// checksum-valid file that claims 2^32 + 1 rows is an error, not a 5 GB allocation; the
// structure (shapes against the model config, bits, pieces) is checked by load_bcq_model
// (quant/bcq_model.h). Exposed so tests can write structurally damaged files with a valid
// checksum.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "quant/bcq_matrix.h"

namespace bcqnmt {

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

std::string encode_bcq_payload(const BcqFile& file);
// Throws QuantError "<where>: ..." when a size exceeds what the payload holds or the
// payload ends early or has bytes left over.
BcqFile decode_bcq_payload(const std::string& payload, const std::string& where);

// Throws QuantError naming the path (envelope problems: bad magic, truncated, checksum).
void write_bcq_file(const std::filesystem::path& path, const BcqFile& file);
BcqFile read_bcq_file(const std::filesystem::path& path);

}  // namespace bcqnmt

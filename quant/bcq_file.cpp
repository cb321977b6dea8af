#include "quant/bcq_file.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "core/checksummed_file.h"
#include "core/error.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

constexpr uint32_t kBcqFormatVersion = 1;
const FileEnvelope kBcqEnvelope{{'B', 'C', 'Q', 'N', 'M', 'T', 'B', 'Q'}, kBcqFormatVersion, "BCQ model"};

// Reads what the serialize() functions above wrote, field by field, with every size tag
// compared with the bytes left before anything is allocated (cereal's own loaders resize
// first). The order of the reads is the order of those serialize() calls.
class BoundedReader {
 public:
  BoundedReader(const std::string& payload, std::string where)
      : in_(payload, std::ios::binary), archive_(in_), total_(payload.size()), where_(std::move(where)) {}

  template <class T>
  void scalar(T& value) {
    archive_(value);
  }

  // A size tag for elements that take at least `min_bytes` each.
  size_t size(size_t min_bytes, const char* what) {
    cereal::size_type n = 0;
    archive_(cereal::make_size_tag(n));
    if (n > remaining() / min_bytes)
      throw QuantError(where_ + ": " + what + " claims " + std::to_string(n) + " entries, more than the " +
                       std::to_string(remaining()) + " bytes left in the file");
    return static_cast<size_t>(n);
  }

  template <class T>
  void array(std::vector<T>& values, const char* what) {
    values.resize(size(sizeof(T), what));
    archive_(cereal::binary_data(values.data(), values.size() * sizeof(T)));
  }

  void text(std::string& s, const char* what) {
    s.resize(size(1, what));
    archive_(cereal::binary_data(s.data(), s.size()));
  }

  void expect_end() {
    if (remaining() != 0) throw QuantError(where_ + ": " + std::to_string(remaining()) + " bytes after the model");
  }

 private:
  size_t remaining() {
    const std::streamoff at = in_.tellg();
    return at < 0 ? 0 : total_ - static_cast<size_t>(at);
  }

  std::istringstream in_;
  cereal::PortableBinaryInputArchive archive_;
  size_t total_;
  std::string where_;
};

// The smallest serialized BcqMatrix, StoredMatrix and StoredTensor (their integers and
// empty size tags), the bound on how many of them the bytes left can hold.
constexpr size_t kMinMatrixBytes = 8 + 8 + 4 + 8 + 8 + 8;
constexpr size_t kMinStoredMatrixBytes = 8 + 8 + 8 + 8 + 8;
constexpr size_t kMinStoredTensorBytes = 8 + 8 + 8;

void read_matrix(BoundedReader& r, BcqMatrix& m) {
  r.scalar(m.rows);
  r.scalar(m.cols);
  r.scalar(m.bits);
  r.scalar(m.group_size);
  r.array(m.alphas, "a piece's alphas");
  r.array(m.signs, "a piece's sign words");
}

void read_stored_matrix(BoundedReader& r, StoredMatrix& s) {
  r.text(s.name, "a matrix name");
  r.scalar(s.rows);
  r.scalar(s.cols);
  s.pieces.resize(r.size(kMinMatrixBytes, "a matrix's piece list"));
  for (BcqMatrix& m : s.pieces) read_matrix(r, m);
  r.array(s.piece_of_row, "a matrix's row table");
}

void read_stored_tensor(BoundedReader& r, StoredTensor& t) {
  r.text(t.name, "a tensor name");
  r.array(t.shape, "a tensor shape");
  r.array(t.values, "a tensor's values");
}

}  // namespace

std::string encode_bcq_payload(const BcqFile& file) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(file);
  }
  return std::move(out).str();
}

BcqFile decode_bcq_payload(const std::string& payload, const std::string& where) {
  BcqFile file;
  try {
    BoundedReader r(payload, where);
    r.text(file.config_json, "the model config");
    r.scalar(file.source_vocab_fingerprint);
    r.scalar(file.target_vocab_fingerprint);
    file.matrices.resize(r.size(kMinStoredMatrixBytes, "the matrix list"));
    for (StoredMatrix& s : file.matrices) read_stored_matrix(r, s);
    file.dense.resize(r.size(kMinStoredTensorBytes, "the tensor list"));
    for (StoredTensor& t : file.dense) read_stored_tensor(r, t);
    r.expect_end();
  } catch (const cereal::Exception& e) {  // the payload ends inside a field
    throw QuantError(where + ": the model data ends early despite a valid checksum (" + e.what() + ")");
  }
  return file;
}

void write_bcq_file(const std::filesystem::path& path, const BcqFile& file) {
  try {
    write_checksummed_file(path, kBcqEnvelope, encode_bcq_payload(file));
  } catch (const CoreError& e) {
    throw QuantError(e.what());
  }
}

BcqFile read_bcq_file(const std::filesystem::path& path) {
  std::string payload;
  try {
    payload = read_checksummed_file(path, kBcqEnvelope);
  } catch (const CoreError& e) {
    throw QuantError(e.what());
  }
  return decode_bcq_payload(payload, path.string());
}

}  // namespace bcqnmt

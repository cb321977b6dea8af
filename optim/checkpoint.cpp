#include "optim/checkpoint.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <nlohmann/json.hpp>

#include "core/checksummed_file.h"
#include "core/error.h"
#include "nn/json_file.h"

namespace bcqnmt {

// Lengths read from a file are never trusted with an allocation: a checksum-valid file may
// still claim any count (the fuzzers of tests/test_fuzz_inputs.cpp write such files). A
// count above 2^31, far above anything a real checkpoint holds, is an error at once; below
// it, strings and lists grow only as their bytes are actually read, so a false count ends
// in cereal's "failed to read" error, not in a huge allocation.
constexpr uint64_t kMaxCount = uint64_t{1} << 31;

// A string, vector or map read that way. Written exactly as cereal writes the container
// itself (size tag, then the elements), so files are unchanged.
template <class T>
struct Bounded {
  T& value;
};
template <class T>
Bounded<T> bounded(T& value) {
  return {value};
}

template <class Archive>
size_t checked_count(Archive& ar, const char* what) {
  cereal::size_type count = 0;
  ar(cereal::make_size_tag(count));
  if (count > kMaxCount) throw std::length_error(std::string(what) + " claims " + std::to_string(count) + " entries");
  return static_cast<size_t>(count);
}

template <class Archive, class T>
void save(Archive& ar, const Bounded<T>& b) {
  ar(b.value);
}

template <class Archive>
void load(Archive& ar, Bounded<std::string>& b) {
  constexpr size_t kChunk = size_t{1} << 16;
  b.value.clear();
  for (size_t left = checked_count(ar, "a string"); left > 0;) {
    const size_t chunk = std::min(left, kChunk), old = b.value.size();
    b.value.resize(old + chunk);
    ar(cereal::binary_data(b.value.data() + old, chunk));
    left -= chunk;
  }
}

template <class Archive, class T>
void load(Archive& ar, Bounded<std::vector<T>>& b) {
  const size_t count = checked_count(ar, "a list");
  b.value.clear();
  b.value.reserve(std::min<size_t>(count, 1024));
  for (size_t i = 0; i < count; ++i) {
    T element{};
    ar(element);
    b.value.push_back(std::move(element));
  }
}

template <class Archive>
void load(Archive& ar, Bounded<std::map<std::string, double>>& b) {
  const size_t count = checked_count(ar, "the metrics");
  b.value.clear();
  for (size_t i = 0; i < count; ++i) {
    std::string name;
    double value = 0.0;
    ar(bounded(name), value);
    b.value[name] = value;
  }
}

// cereal finds these by argument-dependent lookup, so they live in Tensor's namespace.
// "defined" is one byte, 0 or 1, read as a byte: any other value is an error, not a bool
// holding an invalid value (undefined behaviour).
template <class Archive>
void save(Archive& ar, const Tensor& t) {
  ar(static_cast<uint8_t>(t.defined()));
  if (!t.defined()) return;
  ar(t.shape());
  ar(cereal::binary_data(t.data(), sizeof(float) * static_cast<size_t>(t.numel())));
}

template <class Archive>
void load(Archive& ar, Tensor& t) {
  uint8_t defined = 0;
  ar(defined);
  if (defined > 1) throw std::length_error("a tensor's defined flag is " + std::to_string(defined) + ", not 0 or 1");
  if (!defined) {
    t = Tensor();
    return;
  }
  Shape shape;
  ar(bounded(shape));
  // A checksum-valid file may still claim any shape: bound it before allocating (2^30
  // floats, 4 GB, is 100 times the reference model's largest tensor).
  constexpr int64_t kMaxElements = int64_t{1} << 30;
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && numel > kMaxElements / d))
      throw std::length_error("a tensor of shape " + shape_str(shape) + " exceeds 2^30 elements");
    numel *= d;
  }
  t = Tensor(shape);
  ar(cereal::binary_data(t.data(), sizeof(float) * static_cast<size_t>(t.numel())));
}

template <class Archive>
void serialize(Archive& ar, NamedTensor& t) {
  ar(bounded(t.name), t.value);
}

template <class Archive>
void serialize(Archive& ar, AdamState& s) {
  ar(s.step, bounded(s.first_moment), bounded(s.second_moment));
}

template <class Archive>
void serialize(Archive& ar, Checkpoint& c) {
  ar(bounded(c.parameters), c.optimizer, c.step, c.epoch, c.rng_state, bounded(c.trainer_progress),
     bounded(c.config_json), c.source_vocab_fingerprint, c.target_vocab_fingerprint, bounded(c.metrics));
}

namespace {

const FileEnvelope kCheckpointEnvelope{{'B', 'C', 'Q', 'N', 'M', 'T', 'C', 'K'}, kCheckpointFormatVersion, "checkpoint"};

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw CheckpointError(path.string() + ": " + problem);
}

void check_optimizer_matches_parameters(const Checkpoint& c, const std::filesystem::path& path) {
  const size_t n = c.parameters.size();
  const size_t m = c.optimizer.first_moment.size();
  if (m == 0 && c.optimizer.second_moment.empty()) return;
  if (m != n || c.optimizer.second_moment.size() != n)
    fail(path, "optimizer state has " + std::to_string(m) + " moments for " + std::to_string(n) + " parameters");
  for (size_t k = 0; k < n; ++k)
    if (c.optimizer.first_moment[k].shape() != c.parameters[k].value.shape() ||
        c.optimizer.second_moment[k].shape() != c.parameters[k].value.shape())
      fail(path, "optimizer moments of '" + c.parameters[k].name + "' do not have the parameter's shape " +
                     shape_str(c.parameters[k].value.shape()));
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  check_optimizer_matches_parameters(checkpoint, path);
  std::ostringstream payload_stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(payload_stream);
    archive(checkpoint);
  }
  try {
    write_checksummed_file(path, kCheckpointEnvelope, std::move(payload_stream).str());
  } catch (const CoreError& e) {
    throw CheckpointError(e.what());
  }
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  std::string payload;
  try {
    payload = read_checksummed_file(path, kCheckpointEnvelope);
  } catch (const CoreError& e) {
    throw CheckpointError(e.what());
  }

  Checkpoint checkpoint;
  try {
    std::istringstream payload_stream(std::move(payload), std::ios::binary);
    cereal::PortableBinaryInputArchive archive(payload_stream);
    archive(checkpoint);
  } catch (const std::exception& e) {
    fail(path, std::string("unreadable payload despite a valid checksum (written by another build?): ") + e.what());
  }
  check_optimizer_matches_parameters(checkpoint, path);
  return checkpoint;
}

void check_checkpoint_compatible(const Checkpoint& checkpoint, const std::filesystem::path& path,
                                 const std::string& expected_config_json, uint64_t source_vocab_fingerprint,
                                 uint64_t target_vocab_fingerprint) {
  nlohmann::json stored, expected;
  if (std::string error = parse_json_text(checkpoint.config_json, "the model config stored in it", stored);
      !error.empty())
    fail(path, error);
  if (std::string error = parse_json_text(expected_config_json, "the expected model config", expected);
      !error.empty())
    throw CheckpointError(error);
  if (stored != expected) {
    const nlohmann::json a = stored.flatten(), b = expected.flatten();
    std::string differences;
    auto note = [&](const std::string& key, const std::string& in_checkpoint, const std::string& wanted) {
      differences += (differences.empty() ? "" : ", ") + key + ": checkpoint " + in_checkpoint + ", expected " + wanted;
    };
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) note(key, value.dump(), "absent");
      else if (b.at(key) != value) note(key, value.dump(), b.at(key).dump());
    }
    for (const auto& [key, value] : b.items())
      if (!a.contains(key)) note(key, "absent", value.dump());
    fail(path, "written for another model config (" + differences +
                   "); resume with the config the run was started with, or use a new run directory");
  }
  auto check_vocab = [&](const char* side, uint64_t stored_fp, uint64_t expected_fp) {
    if (stored_fp == expected_fp) return;
    std::ostringstream msg;
    msg << "written with another " << side << " vocabulary (fingerprint " << std::hex << stored_fp << ", expected "
        << expected_fp << "); resume with the vocabulary the run was trained with, or use a new run directory";
    fail(path, msg.str());
  };
  check_vocab("source", checkpoint.source_vocab_fingerprint, source_vocab_fingerprint);
  check_vocab("target", checkpoint.target_vocab_fingerprint, target_vocab_fingerprint);
}

}  // namespace bcqnmt

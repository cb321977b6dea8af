#pragma once
// Training checkpoints: everything needed to resume a run exactly, in one file.
//
// File layout: the checksummed envelope of core/checksummed_file.h with magic "BCQNMTCK"
// around a cereal portable binary archive of Checkpoint:
//   magic (8 bytes) | format version u32 | payload length u64 | payload | FNV-1a 64 of the payload u64
// The length and the checksum let load_checkpoint tell a truncated file from a corrupted
// one and say so, instead of failing somewhere inside the parser. Files are written with
// write_file_atomically (core/atomic_file.h): a crash leaves the previous file intact.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "optim/adam.h"
#include "optim/checkpoint_error.h"

namespace bcqnmt {

struct Checkpoint {
  std::vector<NamedTensor> parameters;  // model parameters by name, in the model's order
  AdamState optimizer;                  // moments align with `parameters` (or are empty)
  int64_t step = 0;                     // training steps done
  int64_t epoch = 0;
  uint64_t rng_state = 0;                  // core/random.h Rng::state()
  // The trainer's progress (epoch, position in the epoch's batch order), serialized by the
  // trainer (apps/trainer.cpp); opaque here. Stored where version 1 put the batcher's state.
  std::string trainer_progress;
  std::string config_json;                 // the model config
  uint64_t source_vocab_fingerprint = 0;
  uint64_t target_vocab_fingerprint = 0;
  std::map<std::string, double> metrics;   // e.g. "val_masked_accuracy" -> 0.63
};

constexpr uint32_t kCheckpointFormatVersion = 1;

// Throws CheckpointError naming the file if it cannot be written.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Verifies magic, version, size and checksum before parsing; throws CheckpointError naming
// the file and the problem ("...: checksum mismatch (file corrupted?)",
// "...: truncated: expected N bytes, got M").
Checkpoint load_checkpoint(const std::filesystem::path& path);

// What a checkpoint must match to be resumed into a model: the model config and both
// vocabularies.
struct CheckpointIdentity {
  std::string config_json;
  uint64_t source_vocab_fingerprint = 0;
  uint64_t target_vocab_fingerprint = 0;
};

// Throws CheckpointError if `checkpoint` (read from `path`) was written for another model
// config (compared as JSON values, so formatting and key order do not matter; the message
// lists the differing keys) or with other vocabularies.
void check_checkpoint_compatible(const Checkpoint& checkpoint, const std::filesystem::path& path,
                                 const std::string& expected_config_json, uint64_t source_vocab_fingerprint,
                                 uint64_t target_vocab_fingerprint);

}  // namespace bcqnmt

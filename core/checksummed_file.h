#pragma once
// A checksummed binary envelope around an opaque payload, shared by every bcqnmt file that
// must tell a truncated file from a corrupted one (training checkpoints, .bcq models).
//
// Layout (integers little-endian):
//   magic (8 bytes) | format version u32 | payload length u64 | payload | FNV-1a 64 of the payload u64
// Written with write_file_atomically (core/atomic_file.h): a failed or killed write leaves
// the previous file intact.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace bcqnmt {

// FNV-1a, 64-bit (Fowler, Noll, Vo): offset basis 14695981039346656037, prime 2^40 + 435.
uint64_t fnv1a_64(std::string_view bytes);

struct FileEnvelope {
  std::array<char, 8> magic;
  uint32_t version;
  std::string kind;  // for messages: "not a bcqnmt <kind> (bad magic)"
};

// Throws CoreError naming the path and the system's reason.
void write_checksummed_file(const std::filesystem::path& path, const FileEnvelope& envelope, std::string_view payload);
// Verifies magic, version, length and checksum and returns the payload. Throws CoreError
// "<path>: <problem>": "not a bcqnmt <kind> (bad magic)", "<kind> format version N, this build
// reads version M", "truncated: expected N bytes, got M", "... (trailing data; file
// corrupted?)", "checksum mismatch (file corrupted?)".
std::string read_checksummed_file(const std::filesystem::path& path, const FileEnvelope& envelope);

}  // namespace bcqnmt

#include "core/checksummed_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace bcqnmt {

namespace {

constexpr size_t kHeaderBytes = 8 + 4 + 8;  // magic, version, payload length
constexpr size_t kChecksumBytes = 8;

template <class T>
void append_le(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

template <class T>
T read_le(const char* p) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i);
  return value;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw CoreError(path.string() + ": " + problem);
}

}  // namespace

uint64_t fnv1a_64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void write_checksummed_file(const std::filesystem::path& path, const FileEnvelope& envelope, std::string_view payload) {
  std::string header(envelope.magic.begin(), envelope.magic.end());
  append_le<uint32_t>(header, envelope.version);
  append_le<uint64_t>(header, payload.size());
  std::string trailer;
  append_le<uint64_t>(trailer, fnv1a_64(payload));
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.write(trailer.data(), static_cast<std::streamsize>(trailer.size()));
  });
}

std::string read_checksummed_file(const std::filesystem::path& path, const FileEnvelope& envelope) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open " + envelope.kind + ": " + std::strerror(errno));
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read the file size: " + ec.message());
  if (file_bytes < kHeaderBytes)
    fail(path, "truncated: expected at least " + std::to_string(kHeaderBytes) + " bytes of header, got " +
                   std::to_string(file_bytes));

  char header[kHeaderBytes];
  in.read(header, kHeaderBytes);
  if (std::memcmp(header, envelope.magic.data(), envelope.magic.size()) != 0)
    fail(path, "not a bcqnmt " + envelope.kind + " (bad magic)");
  const uint32_t version = read_le<uint32_t>(header + 8);
  if (version != envelope.version)
    fail(path, envelope.kind + " format version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(envelope.version));
  const uint64_t payload_bytes = read_le<uint64_t>(header + 12);
  const uint64_t expected = kHeaderBytes + payload_bytes + kChecksumBytes;
  if (payload_bytes > file_bytes || file_bytes < expected)
    fail(path, "truncated: expected " + std::to_string(expected) + " bytes, got " + std::to_string(file_bytes));
  if (file_bytes > expected)
    fail(path, "has " + std::to_string(file_bytes) + " bytes, expected " + std::to_string(expected) +
                   " (trailing data; file corrupted?)");

  std::string payload(payload_bytes, '\0');
  char trailer[kChecksumBytes];
  in.read(payload.data(), static_cast<std::streamsize>(payload_bytes));
  in.read(trailer, kChecksumBytes);
  if (!in) fail(path, "read error");
  if (fnv1a_64(payload) != read_le<uint64_t>(trailer)) fail(path, "checksum mismatch (file corrupted?)");
  return payload;
}

}  // namespace bcqnmt

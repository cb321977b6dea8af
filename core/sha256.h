#pragma once
// SHA-256 digests (FIPS 180-4) of bytes and files, as lower-case hex: the provenance of a
// run's files (run manifests, export bundles) is recorded and checked with them. The hashing
// itself is OpenSSL's (libcrypto's EVP interface); this file only adapts it.
#include <filesystem>
#include <string>
#include <string_view>

namespace bcqnmt {

// 64 lower-case hex digits. sha256_hex("abc") ==
// "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" (FIPS 180-2, B.1).
std::string sha256_hex(std::string_view bytes);

// The digest of a whole file, read in 1 MiB blocks (a 120 MB checkpoint never sits in memory
// twice). Throws CoreError naming the path when it cannot be opened or read.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace bcqnmt

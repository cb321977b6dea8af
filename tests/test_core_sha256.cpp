// SHA-256 against the FIPS 180-2 appendix B test vectors and sha256sum(1) on a file.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/sha256.h"

using namespace bcqnmt;

TEST_CASE("sha256 of bytes matches the FIPS 180-2 vectors") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256 of a file spanning several read blocks: one million 'a' (FIPS 180-2 B.3)") {
  const auto path = std::filesystem::temp_directory_path() / "bcqnmt_sha256_million_a.txt";
  std::ofstream(path, std::ios::binary) << std::string(1000000, 'a');
  CHECK(sha256_file_hex(path) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  std::filesystem::remove(path);
  CHECK_THROWS_AS(sha256_file_hex(path), CoreError);
}

#include "core/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"

namespace bcqnmt {
namespace {

// One EVP digest context, freed on every path (OpenSSL 3 reports failures by return value).
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    BCQNMT_CHECK(context_ && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1,
                 "sha256: OpenSSL could not start a digest");
  }
  void update(const void* data, size_t bytes) {
    BCQNMT_CHECK(EVP_DigestUpdate(context_.get(), data, bytes) == 1, "sha256: OpenSSL digest update failed");
  }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    BCQNMT_CHECK(EVP_DigestFinal_ex(context_.get(), digest.data(), &length) == 1, "sha256: OpenSSL digest failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context_;
};

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  Sha256 digest;
  digest.update(bytes.data(), bytes.size());
  return digest.hex();
}

std::string sha256_file_hex(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CoreError("cannot read " + path.string() + ": " + std::strerror(errno));
  Sha256 digest;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    digest.update(block.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw CoreError("cannot read " + path.string() + ": read failed");
  return digest.hex();
}

}  // namespace bcqnmt

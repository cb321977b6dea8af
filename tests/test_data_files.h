#pragma once
// What the data/ tests share: a scratch directory, file writing, and the real corpus when
// it is present (never copied into the repo; tests that need it skip with a message).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace bcqnmt::test {

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bcqnmt_data_XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

inline void write_text(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// The real corpus directory, or "" when absent.
inline std::string real_corpus_dir() {
  if (const char* env = std::getenv("BCQNMT_DATA"); env != nullptr && env[0] != '\0') return env;
  const std::string shared = std::string(BCQNMT_SOURCE_DIR) + "/../shared/data/ted_hrlr_pt_to_en";
  return std::filesystem::exists(shared + "/train.en") ? shared : "";
}

// real_corpus_dir(), saying SKIPPED (and how to provide it) when absent: use as
//   const std::string data = real_corpus_or_skip(); if (data.empty()) return;
inline std::string real_corpus_or_skip() {
  const std::string data = real_corpus_dir();
  if (data.empty()) MESSAGE("SKIPPED: the TED corpus is not present (set BCQNMT_DATA or put it at ../shared/data)");
  return data;
}

}  // namespace bcqnmt::test

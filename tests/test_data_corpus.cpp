// Corpus loading: both layouts, CRLF, empty sides, and one clear error per kind of bad input.
#include <doctest/doctest.h>

#include <cstdlib>

#include "data/corpus.h"
#include "data/data_error.h"
#include "test_data_files.h"

using namespace bcqnmt;
using bcqnmt::test::ScratchDir;
using bcqnmt::test::write_text;

namespace {

// The error message of load_split (or "" if it loads).
std::string load_error(const std::string& dir, Split split) {
  try {
    load_split(dir, split);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

void write_shared_layout(const std::filesystem::path& dir) {
  for (const char* split : {"train", "validation", "test"}) {
    write_text(dir / (std::string(split) + ".pt"), "olá , mundo .\nbom dia .\n");
    write_text(dir / (std::string(split) + ".en"), "hello , world .\ngood morning .\n");
  }
}

}  // namespace

TEST_CASE("shared layout: {split}.{pt,en}, pairs aligned") {
  ScratchDir dir;
  write_shared_layout(dir.path);
  const ParallelText text = load_split(dir.path.string(), Split::kValidation);
  REQUIRE(text.size() == 2);
  CHECK(text.source[0] == "olá , mundo .");
  CHECK(text.target[1] == "good morning .");
  CHECK(text.dropped_pairs == 0);
}

TEST_CASE("original layout: the dir holding datasets/, or pt_to_en itself; dev = validation") {
  ScratchDir dir;
  const auto base = dir.path / "datasets" / "pt_to_en";
  for (const char* split : {"train", "dev", "test"}) {
    write_text(base / (std::string("pt.") + split), std::string("frase ") + split + " .\n");
    write_text(base / (std::string("en.") + split), std::string("sentence ") + split + " .\n");
  }
  for (const auto& root : {dir.path, base}) {
    const ParallelText dev = load_split(root.string(), split_from_name("validation"));
    REQUIRE(dev.size() == 1);
    CHECK(dev.source[0] == "frase dev .");
    CHECK(dev.target[0] == "sentence dev .");
  }
  CHECK(split_from_name("dev") == Split::kValidation);
  CHECK_THROWS_AS(split_from_name("training"), DataError);
}

// Each row: train.pt, train.en, the pairs kept, the pairs dropped for an empty side.
struct LineEndingCase {
  const char* name;
  std::string pt, en;
  std::vector<std::string> source, target;
  int64_t dropped;
};

TEST_CASE("LF, CRLF and CR-only endings, a missing final newline, and pairs with an empty side") {
  const LineEndingCase cases[] = {
      {"CRLF", "um .\r\n\r\ndois .\r\n  \r\nquatro .", "one .\r\nzero .\r\n\r\nthree .\r\nfour .",
       {"um .", "quatro ."}, {"one .", "four ."}, 3},
      // CR-only (classic Mac) was one merged pair before
      {"CR-only against LF and CRLF", "um .\rdois .\r\rtres .\r", "one .\ntwo .\r\n\nthree .\n",
       {"um .", "dois .", "tres ."}, {"one .", "two .", "three ."}, 1},
  };
  for (const LineEndingCase& c : cases) {
    CAPTURE(c.name);
    ScratchDir dir;
    write_shared_layout(dir.path);
    write_text(dir.path / "train.pt", c.pt);
    write_text(dir.path / "train.en", c.en);
    const ParallelText text = load_split(dir.path.string(), Split::kTrain);
    CHECK(text.source == c.source);
    CHECK(text.target == c.target);
    CHECK(text.dropped_pairs == c.dropped);
  }
}

TEST_CASE("mismatched line counts name both files and counts") {
  ScratchDir dir;
  write_shared_layout(dir.path);
  write_text(dir.path / "test.en", "a .\nb .\n");
  write_text(dir.path / "test.pt", "a .\nb .\nc .\n");
  CHECK(load_error(dir.path.string(), Split::kTest).rfind("test.en has 2 lines but test.pt has 3", 0) == 0);
}

TEST_CASE("invalid UTF-8 names the file, line and byte") {
  ScratchDir dir;
  write_shared_layout(dir.path);
  write_text(dir.path / "train.en", "fine .\nbad \xC3\x28 byte .\n");
  const std::string error = load_error(dir.path.string(), Split::kTrain);
  MESSAGE(error);
  CHECK(error.rfind("train.en line 2: invalid UTF-8 at byte 5", 0) == 0);
}

TEST_CASE("a missing split, an empty directory and a missing directory each give one clear error") {
  ScratchDir dir;
  write_shared_layout(dir.path);
  std::filesystem::remove(dir.path / "test.pt");
  const std::string missing_split = load_error(dir.path.string(), Split::kTest);
  MESSAGE(missing_split);
  CHECK(missing_split.find("test.pt is missing") != std::string::npos);
  CHECK(missing_split.find("fetch_data.sh") != std::string::npos);

  ScratchDir empty;
  const std::string empty_error = load_error(empty.path.string(), Split::kTrain);
  MESSAGE(empty_error);
  CHECK(empty_error.find("holds no TED pt-en corpus") != std::string::npos);

  const std::string absent = load_error((empty.path / "nowhere").string(), Split::kTrain);
  CHECK(absent.find("does not exist") != std::string::npos);
}

TEST_CASE("resolve_data_dir: flag, then BCQNMT_DATA, then ../shared/data/ted_hrlr_pt_to_en, else a hint") {
  ScratchDir dir;
  const auto old_cwd = std::filesystem::current_path();
  const char* old_env = std::getenv("BCQNMT_DATA");
  const std::string saved_env = old_env ? old_env : "";
  std::filesystem::create_directories(dir.path / "work");
  std::filesystem::current_path(dir.path / "work");
  ::unsetenv("BCQNMT_DATA");

  CHECK(resolve_data_dir("/some/flag") == "/some/flag");
  std::string error;
  try {
    resolve_data_dir("");
  } catch (const DataError& e) {
    error = e.what();
  }
  CHECK(error.find("fetch_data.sh") != std::string::npos);
  CHECK(error.find("BCQNMT_DATA") != std::string::npos);

  std::filesystem::create_directories(dir.path / "shared" / "data" / "ted_hrlr_pt_to_en");
  CHECK(resolve_data_dir("") == "../shared/data/ted_hrlr_pt_to_en");
  ::setenv("BCQNMT_DATA", "/from/env", 1);
  CHECK(resolve_data_dir("") == "/from/env");
  CHECK(resolve_data_dir("/some/flag") == "/some/flag");

  std::filesystem::current_path(old_cwd);
  if (old_env)
    ::setenv("BCQNMT_DATA", saved_env.c_str(), 1);
  else
    ::unsetenv("BCQNMT_DATA");
}

TEST_CASE("the real corpus loads with the documented line counts") {
  const std::string dir = bcqnmt::test::real_corpus_dir();
  if (dir.empty()) {
    MESSAGE("real corpus absent (../shared/data/ted_hrlr_pt_to_en or BCQNMT_DATA): skipped");
    return;
  }
  CHECK(load_split(dir, Split::kTrain).size() == 51785);
  CHECK(load_split(dir, Split::kValidation).size() == 1193);
  CHECK(load_split(dir, Split::kTest).size() == 1803);
}

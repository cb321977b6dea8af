// scripts/fetch_data.sh without the internet: a made-up corpus tarball in the original
// qi18naacl layout (with macOS ._* entries), served by a file:// URL.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "data/corpus.h"
#include "data/data_error.h"
#include "test_data_files.h"

using namespace bcqnmt;
using bcqnmt::test::ScratchDir;
using bcqnmt::test::write_text;
namespace fs = std::filesystem;

namespace {

// Runs a shell command; returns its exit status, its output in `output`.
int run(const std::string& command, std::string& output, const fs::path& log) {
  const int status = std::system((command + " >" + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  output = s.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shell_quoted(const fs::path& path) {
  std::string quoted(1, '\'');  // built with += : GCC 12 warns falsely (-Wrestrict) on "'" + s
  quoted += path.string();
  quoted += '\'';
  return quoted;
}

}  // namespace

TEST_CASE("fetch_data.sh: checksum verified, original layout extracted, ._* skipped; a wrong checksum extracts nothing") {
  ScratchDir dir;
  const fs::path staging = dir.path / "staging";
  const fs::path corpus = staging / "datasets" / "pt_to_en";
  const char* splits[] = {"train", "dev", "test"};
  for (const char* split : splits) {
    write_text(corpus / (std::string("pt.") + split), std::string("uma frase de ") + split + " .\noutra frase .\n");
    write_text(corpus / (std::string("en.") + split), std::string("a sentence of ") + split + " .\nanother one .\n");
    write_text(corpus / (std::string("._pt.") + split), "AppleDouble metadata");
  }
  const fs::path archive = dir.path / "corpus.tar.gz";
  const fs::path log = dir.path / "log.txt";
  std::string output;
  REQUIRE(run("tar -czf " + shell_quoted(archive) + " -C " + shell_quoted(staging) + " datasets", output, log) == 0);
  REQUIRE(run("sha256sum " + shell_quoted(archive), output, log) == 0);
  const std::string sha256 = output.substr(0, 64);
  const std::string script = std::string(BCQNMT_SOURCE_DIR) + "/scripts/fetch_data.sh";
  const std::string url = "file://" + archive.string();

  const fs::path good = dir.path / "good";
  const int ok = run("bash " + shell_quoted(script) + " --sha256 " + sha256 + " " + url + " " + shell_quoted(good), output, log);
  MESSAGE(output);
  REQUIRE(ok == 0);
  for (const char* split : splits) {
    CHECK(fs::exists(good / "datasets" / "pt_to_en" / (std::string("pt.") + split)));
    CHECK_FALSE(fs::exists(good / "datasets" / "pt_to_en" / (std::string("._pt.") + split)));
  }
  const ParallelText test = load_split(good.string(), Split::kTest);
  REQUIRE(test.size() == 2);
  CHECK(test.source[0] == "uma frase de test .");
  CHECK(test.target[0] == "a sentence of test .");

  // The checksum may also come from the environment (another mirror).
  const fs::path env = dir.path / "env";
  CHECK(run("BCQNMT_DATA_SHA256=" + sha256 + " bash " + shell_quoted(script) + " " + url + " " + shell_quoted(env), output, log) == 0);
  CHECK(fs::exists(env / "datasets" / "pt_to_en" / "en.dev"));

  const fs::path bad = dir.path / "bad";
  const std::string wrong(64, '0');
  const int failed = run("bash " + shell_quoted(script) + " --sha256 " + wrong + " " + url + " " + shell_quoted(bad), output, log);
  MESSAGE(output);
  CHECK(failed != 0);
  CHECK(output.find("checksum mismatch") != std::string::npos);
  CHECK_FALSE(fs::exists(bad));

  // The default checksum is the Holberton mirror's: this archive does not match it.
  CHECK(run("bash " + shell_quoted(script) + " " + url + " " + shell_quoted(bad), output, log) != 0);
  CHECK(output.find("e753eac6bbc55e513146ee6994ebe9de45d977187f34b510cad5f00400c228c5") != std::string::npos);
  CHECK_FALSE(fs::exists(bad));

  // Refuses to overwrite an existing extraction.
  CHECK(run("bash " + shell_quoted(script) + " --sha256 " + sha256 + " " + url + " " + shell_quoted(good), output, log) != 0);
  CHECK(output.find("already exists") != std::string::npos);
}

TEST_CASE("fetch_data.sh --if-missing looks where bcqnmt looks, and fetches nothing when a corpus is there") {
  ScratchDir dir;
  const fs::path cwd = dir.path / "checkout";
  fs::create_directories(cwd);
  const std::string script = std::string(BCQNMT_SOURCE_DIR) + "/scripts/fetch_data.sh";
  const fs::path log = dir.path / "log.txt";
  const std::string unreachable = "file://" + (dir.path / "no_such_archive.tar.gz").string();
  const auto if_missing = [&](std::string& output) {
    return run("cd " + shell_quoted(cwd) + " && env -u BCQNMT_DATA bash " + shell_quoted(script) + " --if-missing " +
                   unreachable,
               output, log);
  };
  const fs::path old_cwd = fs::current_path();
  std::string output;
  // Nothing anywhere: it tries to download (and fails on the unreachable URL), and bcqnmt's
  // own lookup names the places it tried.
  CHECK(if_missing(output) != 0);
  CHECK(output.find("download") != std::string::npos);
  fs::current_path(cwd);
  ::unsetenv("BCQNMT_DATA");
  CHECK_THROWS_WITH_AS(resolve_data_dir(""), doctest::Contains("ted_hrlr_pt_to_en"), DataError);
  // Each default place, in bcqnmt's order: both find the same directory.
  for (const std::string& place : default_data_dirs()) {
    fs::create_directories(cwd / place);
    CHECK(resolve_data_dir("") == place);
    fs::current_path(old_cwd);
    CHECK(if_missing(output) == 0);
    CHECK(output.find("corpus found in " + place) != std::string::npos);
    fs::current_path(cwd);
    fs::remove_all(cwd / place);
  }
  fs::current_path(old_cwd);
}

// scripts/fetch_data.sh without the internet: a made-up corpus tarball in the original
// qi18naacl layout (with macOS ._* entries), served by a file:// URL.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "data/corpus.h"
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

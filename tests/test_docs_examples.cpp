// Every code example in docs/ is a header under docs/examples/ that this program compiles
// and runs; the Markdown quotes the header verbatim, which is checked here too, so a doc
// can neither show code that does not build nor drift from the code that runs.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "../docs/examples/autograd.h"
#include "../docs/examples/bcq_error_table.h"
#include "../docs/examples/rms_norm_layer.h"
#include "../docs/examples/transformer_shapes.h"
#include "core/parallel.h"
#include "run_binary.h"

using namespace bcqnmt;
using bcqnmt::test::slurp;

namespace {

const std::string kDocs = std::string(BCQNMT_SOURCE_DIR) + "/docs/";

template <class F>
std::string output_of(F run) {
  std::ostringstream out;
  run(out);
  return out.str();
}

}  // namespace

TEST_CASE("every ```cpp block in docs/*.md is the verbatim text of a file that is compiled and run") {
  const std::set<std::string> examples = {"autograd.h", "bcq_error_table.h", "rms_norm_layer.h",
                                          "transformer_shapes.h"};
  std::set<std::string> on_disk;
  for (const auto& f : std::filesystem::directory_iterator(kDocs + "examples")) on_disk.insert(f.path().filename());
  CHECK(on_disk == examples);  // a new example must be #included above and run below
  // Besides the examples, docs/extending.md quotes the layers' own sources whole; they are
  // built into bcqnmt_nn and run by the RMSNorm example here, tests/test_nn_rms_norm.cpp and
  // tests/test_quant_new_layer.cpp (the ReGLU gate in nn/feed_forward.cpp).
  std::vector<std::string> candidates = {"nn/rms_norm.h", "nn/rms_norm.cpp", "nn/normalization.h",
                                         "nn/normalization.cpp", "nn/feed_forward.cpp"};
  for (const std::string& name : examples) candidates.push_back("docs/examples/" + name);
  std::set<std::string> quoted;
  int blocks = 0;
  for (const auto& f : std::filesystem::directory_iterator(kDocs)) {
    if (f.path().extension() != ".md") continue;
    const std::string md = slurp(f.path());
    const std::regex fence(R"(```(\w*)\n([\s\S]*?)```)");
    for (auto it = std::sregex_iterator(md.begin(), md.end(), fence); it != std::sregex_iterator(); ++it) {
      const std::string language = (*it)[1], code = (*it)[2];
      INFO(f.path().filename().string() << ": " << code.substr(0, 200));
      CHECK_MESSAGE((language == "cpp" || language == "text"), "fenced blocks are ```cpp (code) or ```text (output)");
      if (language != "cpp") continue;
      ++blocks;
      bool found = false;
      for (const std::string& file : candidates)
        if (slurp(std::string(BCQNMT_SOURCE_DIR) + "/" + file) == code) {
          found = true;
          quoted.insert(file);
        }
      CHECK_MESSAGE(found, "a ```cpp block that is not the text of a compiled-and-run file");
    }
  }
  CHECK(blocks == static_cast<int>(candidates.size()));
  CHECK(quoted.size() == candidates.size());
}

TEST_CASE("autograd example: gradients equal the hand-derived ones") {
  const std::string out = output_of(examples::run_example_autograd);
  MESSAGE(out);
  // y = x w + b = [1*0.5 - 2 + 6 + 0.25, 2 - 5 + 12 + 0.25] = [4.75, 9.25]
  CHECK(out.find("y = 4.75, 9.25\n") != std::string::npos);
  CHECK(out.find("loss = 108.125\n") != std::string::npos);  // 4.75^2 + 9.25^2
  CHECK(out.find("dloss/db = 28 (by hand 28)") != std::string::npos);
  CHECK(out.find("dloss/dw = [83.5 (by hand 83.5), 111.5 (by hand 111.5), 139.5 (by hand 139.5)]") != std::string::npos);
  CHECK(out.find("graph is freed: z has 0 inputs") != std::string::npos);
  CHECK(out.find("under NoGradGuard: requires_grad = 0") != std::string::npos);
  CHECK(slurp(kDocs + "autograd.md").find(out) != std::string::npos);  // the doc shows this very output
}

TEST_CASE("transformer example: the shapes the doc lists") {
  const std::string out = output_of(examples::run_example_transformer_shapes);
  MESSAGE(out);
  CHECK(out.find("[B, S, H*K]        [2, 5, 16]") != std::string::npos);
  CHECK(out.find("logits [B, T, V]                    [2, 4, 40]") != std::string::npos);
  CHECK(out.find("cross_attention/mha/key/kernel [16, 16]") != std::string::npos);
  CHECK(slurp(kDocs + "transformer.md").find(out) != std::string::npos);
}

TEST_CASE("BCQ example: the table in docs/bcq.md is what the solvers measure") {
  set_num_threads(1);  // the solvers are thread-count independent; one thread keeps CTest light
  const std::string out = output_of(examples::run_example_bcq_error_table);
  MESSAGE(out);
  CHECK(out.find("| 3 | 0.05") != std::string::npos);  // quant/README: 3-bit greedy ~0.058
  CHECK(slurp(kDocs + "bcq.md").find(out) != std::string::npos);
}

TEST_CASE("RMSNorm example: config-selected parameter names and the hand-computed value") {
  const std::string out = output_of(examples::run_example_rms_norm_layer);
  MESSAGE(out);
  CHECK(out.find("encoder/layer_0/self_attention/rms_norm/gamma [8]") != std::string::npos);
  CHECK(out.find("decoder/layer_0/ffn/rms_norm/gamma [8]") != std::string::npos);
  CHECK(out.find("layer_norm") == std::string::npos);
  CHECK(slurp(kDocs + "extending.md").find(out) != std::string::npos);
}

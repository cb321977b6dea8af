// `bcqnmt plot` on a run trained for seconds: the three SVG kinds are well-formed XML and
// render with rsvg-convert; and the recorded attention probabilities are the ones the
// fused attention op uses.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "nn/decoding.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

namespace {

// Well-formedness of the XML subset SvgDocument writes: a declaration, elements with
// quoted attributes, escaped text. Returns "" or the first problem.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  size_t i = 0;
  if (s.rfind("<?xml", 0) != 0) return "no XML declaration";
  i = s.find("?>") + 2;
  while (i < s.size()) {
    if (s[i] == '&') {
      const size_t end = s.find(';', i);
      const std::string entity = end == std::string::npos ? "" : s.substr(i, end - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" && entity != "&apos;")
        return "bad entity at " + std::to_string(i);
      i = end + 1;
    } else if (s[i] != '<') {
      ++i;
    } else {
      size_t end = i + 1;
      char quote = 0;
      while (end < s.size() && (quote || s[end] != '>')) {
        if (s[end] == '<' && !quote) return "'<' inside a tag at " + std::to_string(end);
        if (s[end] == '"' || s[end] == '\'') quote = quote == s[end] ? 0 : (quote ? quote : s[end]);
        ++end;
      }
      if (end >= s.size()) return "unterminated tag";
      const std::string tag = s.substr(i + 1, end - i - 1);
      const std::string name = tag.substr(tag[0] == '/', tag.find_first_of(" />", 1) - (tag[0] == '/'));
      if (tag[0] == '/') {
        if (open.empty() || open.back() != name) return "unbalanced </" + name + ">";
        open.pop_back();
      } else if (tag.back() != '/') {
        open.push_back(name);
      }
      i = end + 1;
    }
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

}  // namespace

TEST_CASE("the XML check itself catches broken documents") {
  CHECK(xml_problem("<?xml version=\"1.0\"?>\n<svg a=\"x>y\"><g/><text>a &amp; b</text></svg>\n") == "");
  CHECK(xml_problem("<?xml version=\"1.0\"?><svg><text>a & b</text></svg>") != "");
  CHECK(xml_problem("<?xml version=\"1.0\"?><svg><g></svg>") != "");
}

TEST_CASE("attention_probabilities are the weights of the fused attention op") {
  Rng rng(7);
  const int heads = 2, kd = 3;
  const Tensor q = testing::random_tensor({2, 4, heads * kd}, rng), k = testing::random_tensor({2, 5, heads * kd}, rng),
               v = testing::random_tensor({2, 5, heads * kd}, rng);
  const AttentionMask mask{{5, 3}, false};
  const Tensor p = attention_probabilities(q, k, mask, heads);  // [B, H, Tq, Tk]
  REQUIRE(p.shape() == Shape{2, heads, 4, 5});
  const Tensor fused = attention(Variable(q), Variable(k), Variable(v), mask, heads, 0.0f, rng, false).value();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t t = 0; t < 4; ++t) {
        const float* row = p.data() + ((b * heads + h) * 4 + t) * 5;
        double total = 0;
        for (int64_t j = 0; j < 5; ++j) total += row[j];
        CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
        if (b == 1) CHECK(row[3] + row[4] == 0.0f);  // padding keys get nothing
        for (int64_t c = 0; c < kd; ++c) {
          double mixed = 0;
          for (int64_t j = 0; j < 5; ++j) mixed += row[j] * v.data()[(b * 5 + j) * heads * kd + h * kd + c];
          CHECK(fused.data()[(b * 4 + t) * heads * kd + h * kd + c] == doctest::Approx(mixed).epsilon(1e-4));
        }
      }
}

TEST_CASE("bcqnmt plot writes curves, attention and weights SVGs that parse and render") {
  ScratchDir dir;
  const TinyRun t = make_tiny_run(dir.path, R"("epochs": 2)", R"("epochs": 1, "bits": 2)");
  const auto plots = dir.path / "plots";
  for (const std::string& step : {"vocab --size 200" + t.flags, "pretrain --config " + t.config.string() + t.flags,
                                  "quantize" + t.flags, "plot --out " + plots.string() + t.flags})
    run_bcqnmt_ok(step);
  const int rsvg = std::system("rsvg-convert --version > /dev/null 2>&1");
  REQUIRE_MESSAGE(rsvg == 0, "rsvg-convert is missing: apt-get install librsvg2-bin (scripts/setup.sh does)");
  for (const char* name : {"curves", "health", "attention", "weights"}) {
    const auto svg = plots / (std::string(name) + ".svg"), png = plots / (std::string(name) + ".png");
    const std::string text = slurp(svg);
    INFO(name);
    CHECK(xml_problem(text) == "");
    CHECK(text.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    REQUIRE(std::system(("rsvg-convert -o " + png.string() + " " + svg.string()).c_str()) == 0);
    CHECK(slurp(png).rfind("\x89PNG", 0) == 0);
  }
  const std::string curves = slurp(plots / "curves.svg");
  CHECK(curves.find("pretrain validation") != std::string::npos);
  CHECK(curves.find("quantize 2bit-greedy-projection train") != std::string::npos);  // the variant's curve
  CHECK(slurp(plots / "health.svg").find("pretrain encoder share") != std::string::npos);
  const std::string attention = slurp(plots / "attention.svg");
  CHECK(attention.find("[START]") != std::string::npos);  // source tokens on the axis
  CHECK(slurp(plots / "weights.svg").find("2-bit greedy levels") != std::string::npos);
}

TEST_CASE("plot on finite weights whose cross-attention overflows to NaN: one line, not SIGSEGV in the colour map") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const std::filesystem::path best = t.run / "pretrain" / "best.ckpt";
  Checkpoint c = load_checkpoint(best);
  int scaled = 0;
  for (NamedTensor& p : c.parameters) {
    if (p.name.find("cross_attention") == std::string::npos || p.name.find("query") == std::string::npos) continue;
    for (int64_t i = 0; i < p.value.numel(); ++i) p.value.data()[i] = (i % 2 ? 3e38f : -3e38f);  // finite, huge
    ++scaled;
  }
  REQUIRE(scaled > 0);
  save_checkpoint(best, c);
  const CommandResult r = run_bcqnmt("plot --sentence \"ka lo mi\" --out " + (dir.path / "plots").string() + t.flags);
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("not finite") != std::string::npos);
}

// Without a corpus (no --data, no BCQNMT_DATA, no default directory) and no --sentence, plot
// draws everything but the attention picture, and says so; it used to write the curves and
// then stop with "no corpus found" (exit 1) before weights.svg.
TEST_CASE("plot without a corpus draws the curves and weights, and names the picture it leaves out") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const auto plots = dir.path / "plots";
  const CommandResult r = run_command("cd " + dir.path.string() + " && env -u BCQNMT_DATA " + BCQNMT_BINARY +
                                      " plot --threads 1 --run " + t.run.string() + " --out " + plots.string());
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("no corpus found and no --sentence: no attention.svg") != std::string::npos);
  for (const char* name : {"curves", "health", "weights"})
    CHECK(std::filesystem::exists(plots / (std::string(name) + ".svg")));
  CHECK_FALSE(std::filesystem::exists(plots / "attention.svg"));
}

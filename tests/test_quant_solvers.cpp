// BCQ solvers and the BcqMatrix container: exactness of the greedy reference, error levels
// on Gaussian rows (figures from docs/reference.md §5), groups, packing, serialization.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/app_error.h"
#include "apps/quantization_config.h"
#include "core/parallel.h"
#include "core/random.h"
#include "quant/bcq_matrix.h"
#include "quant/bcq_solvers.h"
#include "quant/quant_error.h"

using namespace bcqnmt;

namespace {

// sum ||w_r - dequantized_r||^2 / ||w_r||^2, averaged over rows.
double mean_relative_squared_error(const std::vector<float>& w, const BcqMatrix& m) {
  const Tensor d = m.dequantize();
  double total = 0.0;
  for (int64_t r = 0; r < m.rows; ++r) {
    double err = 0.0, norm = 0.0;
    for (int64_t c = 0; c < m.cols; ++c) {
      const double x = w[r * m.cols + c];
      err += (x - d.data()[r * m.cols + c]) * (x - d.data()[r * m.cols + c]);
      norm += x * x;
    }
    total += err / norm;
  }
  return total / static_cast<double>(m.rows);
}

double gaussian_error(int bits, BcqMethod method, int cycles = 10) {
  const int64_t rows = 256, cols = 512;
  const auto w = Rng(42).normals(rows * cols);
  return mean_relative_squared_error(w, bcq_quantize(w.data(), rows, cols, {bits, 0, method, cycles}));
}

}  // namespace

TEST_CASE("greedy 1-bit is sign(w) * mean|w|, with sign(0) = +1") {
  const std::vector<float> w{0.5f, -1.5f, 0.0f, 2.0f, -0.25f};
  float alpha = 0.0f;
  std::vector<int8_t> codes(w.size());
  bcq_greedy(w.data(), 5, 1, &alpha, codes.data());
  CHECK(alpha == doctest::Approx((0.5 + 1.5 + 0.0 + 2.0 + 0.25) / 5.0));
  CHECK(codes == std::vector<int8_t>{1, -1, 1, 1, -1});
}

TEST_CASE("greedy residual + dequantized == original (the reference's integrity check)") {
  const auto w = Rng(7).normals(300);
  for (int bits = 1; bits <= 4; ++bits) {
    std::vector<float> alphas(bits), residual(w.size());
    std::vector<int8_t> codes(bits * w.size());
    bcq_greedy(w.data(), 300, bits, alphas.data(), codes.data(), residual.data());
    for (size_t j = 0; j < w.size(); ++j) {
      float d = 0.0f;
      for (int q = 0; q < bits; ++q) d += alphas[q] * codes[q * w.size() + j];
      CHECK(d + residual[j] == doctest::Approx(w[j]).epsilon(1e-5));
    }
    // Greedy alphas shrink: each bit fits what the previous ones left.
    for (int q = 1; q < bits; ++q) CHECK(alphas[q] <= alphas[q - 1]);
  }
}

TEST_CASE("error on 512-wide Gaussian rows matches docs/reference.md §5") {
  const double greedy3 = gaussian_error(3, BcqMethod::greedy);
  const double refined3 = gaussian_error(3, BcqMethod::refined_greedy);
  const double alt3_two_cycles = gaussian_error(3, BcqMethod::alternating, 2);
  const double alt3 = gaussian_error(3, BcqMethod::alternating);
  const double greedy4 = gaussian_error(4, BcqMethod::greedy);
  const double alt4 = gaussian_error(4, BcqMethod::alternating);
  MESSAGE("3-bit greedy " << greedy3 << " refined " << refined3 << " alternating (2 cycles) " << alt3_two_cycles << " (10 cycles) " << alt3 << "; 4-bit greedy "
                          << greedy4 << " alternating " << alt4);
  CHECK(greedy3 == doctest::Approx(0.058).epsilon(0.08));
  CHECK(refined3 <= greedy3);
  CHECK(alt3_two_cycles < refined3);
  CHECK(alt3 <= 0.040);
  CHECK(greedy4 == doctest::Approx(0.032).epsilon(0.1));
  CHECK(alt4 <= 0.013);
}

TEST_CASE("refined and alternating never do worse than greedy on any segment") {
  const int64_t n = 64;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto w = Rng(seed).normals(n);
    for (int bits = 1; bits <= 4; ++bits) {
      auto err = [&](auto solve) {
        std::vector<float> a(bits);
        std::vector<int8_t> b(bits * n);
        solve(a.data(), b.data());
        double e = 0.0;
        for (int64_t j = 0; j < n; ++j) {
          double d = w[j];
          for (int q = 0; q < bits; ++q) d -= a[q] * b[q * n + j];
          e += d * d;
        }
        return e;
      };
      const double g = err([&](float* a, int8_t* b) { bcq_greedy(w.data(), n, bits, a, b); });
      const double r = err([&](float* a, int8_t* b) { bcq_refined_greedy(w.data(), n, bits, a, b); });
      const double a2 = err([&](float* a, int8_t* b) { bcq_alternating(w.data(), n, bits, 2, a, b); });
      const double a5 = err([&](float* a, int8_t* b) { bcq_alternating(w.data(), n, bits, 5, a, b); });
      CHECK(r <= g * (1 + 1e-6));
      CHECK(a2 <= r * (1 + 1e-6));
      CHECK(a5 <= a2 * (1 + 1e-6));
    }
  }
}

TEST_CASE("degenerate segments: fewer weights than bits, constant rows") {
  const std::vector<float> one{3.0f};
  std::vector<float> a(3);
  std::vector<int8_t> b(3);
  bcq_alternating(one.data(), 1, 3, 2, a.data(), b.data());
  CHECK(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] == doctest::Approx(3.0f));
  const std::vector<float> flat(10, -2.0f);
  const BcqMatrix m = bcq_quantize(flat.data(), 1, 10, {2, 0, BcqMethod::alternating, 2});
  for (float v : m.dequantize().to_vector()) CHECK(v == doctest::Approx(-2.0f));
}

TEST_CASE("bcq_quantize packs each row like the segment solver, per group, last group shorter") {
  const int64_t rows = 5, cols = 300, g = 128;  // groups of 128, 128, 44
  const auto w = Rng(3).normals(rows * cols);
  const BcqMatrix m = bcq_quantize(w.data(), rows, cols, {3, g, BcqMethod::refined_greedy, 0});
  REQUIRE(m.groups() == 3);
  REQUIRE(m.words() == 5);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t grp = 0; grp < 3; ++grp) {
      const int64_t n = std::min(g, cols - grp * g);
      std::vector<float> a(3);
      std::vector<int8_t> b(3 * n);
      bcq_refined_greedy(w.data() + r * cols + grp * g, n, 3, a.data(), b.data());
      for (int q = 0; q < 3; ++q) {
        CHECK(m.alpha(q, r, grp) == a[q]);
        for (int64_t j = 0; j < n; ++j) CHECK(m.sign_bit(q, r, grp * g + j) == (b[q * n + j] > 0));
      }
    }
    for (int q = 0; q < 3; ++q) CHECK((m.sign_row(q, r)[4] >> (cols % 64)) == 0);  // padding bits clear
  }
  const double grouped = mean_relative_squared_error(w, m);
  const double whole = mean_relative_squared_error(w, bcq_quantize(w.data(), rows, cols, {3, 0, BcqMethod::refined_greedy, 0}));
  CHECK(grouped < whole);
}

TEST_CASE("quantization is bit-identical for 1 and 2 threads") {
  const auto w = Rng(5).normals(200 * 96);
  set_num_threads(1);
  const BcqMatrix a = bcq_quantize(w.data(), 200, 96, {3, 32, BcqMethod::alternating, 3});
  set_num_threads(2);
  const BcqMatrix b = bcq_quantize(w.data(), 200, 96, {3, 32, BcqMethod::alternating, 3});
  CHECK(a.alphas == b.alphas);
  CHECK(a.signs == b.signs);
}

TEST_CASE("serialize -> deserialize gives an identical matrix; corrupt data is a QuantError") {
  const auto w = Rng(11).normals(7 * 130);
  const BcqMatrix m = bcq_quantize(w.data(), 7, 130, {4, 64, BcqMethod::alternating, 2});
  std::stringstream buffer;
  save_bcq_matrix(buffer, m);
  const std::string bytes = buffer.str();
  std::stringstream in(bytes);
  const BcqMatrix back = load_bcq_matrix(in);
  CHECK(back.rows == 7);
  CHECK(back.cols == 130);
  CHECK(back.bits == 4);
  CHECK(back.group_size == 64);
  CHECK(back.dequantize().to_vector() == m.dequantize().to_vector());
  CHECK(back.signs == m.signs);

  std::stringstream truncated(bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(load_bcq_matrix(truncated), QuantError);
  BcqMatrix bad = m;
  bad.alphas.pop_back();
  std::stringstream bad_buffer;
  save_bcq_matrix(bad_buffer, bad);
  CHECK_THROWS_AS(load_bcq_matrix(bad_buffer), QuantError);
}

TEST_CASE("invalid options are QuantErrors") {
  const std::vector<float> w(16, 1.0f);
  CHECK_THROWS_AS(bcq_quantize(w.data(), 1, 16, {0, 0, BcqMethod::greedy, 0}), QuantError);
  CHECK_THROWS_AS(bcq_quantize(w.data(), 1, 16, {9, 0, BcqMethod::greedy, 0}), QuantError);
  CHECK_THROWS_AS(bcq_method_names().parse<QuantError>("fancy"), QuantError);
  CHECK(bcq_method_names().parse("refined_greedy") == BcqMethod::refined_greedy);
}

// Issue 19: BcqOptions defaulted to alternating / 10 cycles while the "quantization" config
// section defaulted to greedy / 2, and every command used the config's. Now the config
// starts from BcqOptions, the one owner, and the name table reads back what it prints.
TEST_CASE("one set of solver defaults, one name table") {
  const BcqOptions solver;
  const BcqOptions config = QuantizationConfig{}.solver_options();
  CHECK(config.method == solver.method);
  CHECK(config.cycles == solver.cycles);
  CHECK(config.group_size == solver.group_size);
  CHECK(config.bits == solver.bits);
  CHECK(solver.method == BcqMethod::greedy);  // what `bcqnmt quantize` has always run by default
  CHECK(solver.cycles == 2);
  for (const std::string& name : bcq_method_names().names())
    CHECK(bcq_method_names().name(bcq_method_names().parse(name)) == name);
  CHECK(QuantizationConfig::from_json(QuantizationConfig{}.to_json()).solver == BcqMethod::greedy);
  CHECK_THROWS_WITH_AS(QuantizationConfig::from_json(nlohmann::json{{"solver", "fancy"}}),
                       "quantization config: \"solver\" must be \"greedy\", \"refined_greedy\" or \"alternating\", not \"fancy\"",
                       AppError);
}

// Token-level knowledge distillation (nn/distillation.h): the loss and its gradient against
// the hand-derived formulas, on a tiny Transformer.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/distillation.h"
#include "nn/error.h"
#include "quant_tiny_model.h"

using namespace bcqnmt;

namespace {

// Two sentences; target position 3 of the second is padding (label 0, not counted).
const IndexTensor kSource{{2, 5}, {2, 5, 7, 9, 3, 2, 11, 4, 3, 0}};
const IndexTensor kTargetIn{{2, 4}, {2, 6, 8, 10, 2, 13, 5, 0}};
const IndexTensor kTargetOut{{2, 4}, {6, 8, 10, 3, 13, 5, 3, 0}};
constexpr int kCounted = 7;

void zero_grads(const Transformer& m) {
  for (auto& [name, p] : m.named_parameters()) p.zero_grad();
}

}  // namespace

TEST_CASE("weight 1: the loss is KL(teacher || student) and its logit gradient is (q - p) / N") {
  Transformer teacher(test::quant_tiny_config(), 1), student(test::quant_tiny_config(), 2);
  teacher.eval();
  student.eval();
  const Distillation kd(teacher, 1.0);
  zero_grads(student);
  Variable loss = kd.loss(student, kSource, kTargetIn, kTargetOut);
  loss.backward();

  // By hand, in double: p the teacher's softmax, q the student's.
  const Tensor p = kd.teacher_probabilities(kSource, kTargetIn);
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = student.forward(kSource, kTargetIn).value();
  }
  const int64_t v = logits.size(-1);
  double kl = 0.0;
  std::vector<double> bias_grad(v, 0.0);  // d loss / d final bias = sum over rows of (q - p) / N
  for (int64_t r = 0; r < 8; ++r) {
    if (kTargetOut.data[r] == 0) continue;
    const float* z = logits.data() + r * v;
    double mx = z[0], total = 0.0;
    for (int64_t j = 0; j < v; ++j) mx = std::max<double>(mx, z[j]);
    for (int64_t j = 0; j < v; ++j) total += std::exp(z[j] - mx);
    for (int64_t j = 0; j < v; ++j) {
      const double q = std::exp(z[j] - mx) / total, pj = p.data()[r * v + j];
      kl += pj * (std::log(pj) - std::log(q));
      bias_grad[j] += (q - pj) / kCounted;
    }
  }
  CHECK(loss.value().item() == doctest::Approx(kl / kCounted).epsilon(1e-4));
  const Tensor& g = student.final_layer().named_parameters().back().second.grad();
  REQUIRE(student.final_layer().named_parameters().back().first == "bias");
  for (int64_t j = 0; j < v; ++j) CHECK(g.data()[j] == doctest::Approx(bias_grad[j]).epsilon(1e-3).scale(1e-6));
  // The teacher is a constant: no gradient reaches it.
  for (const auto& [name, param] : teacher.named_parameters()) CHECK_MESSAGE(!param.grad().defined(), name);
}

TEST_CASE("weight 0 is the plain label loss, value and every gradient") {
  Transformer teacher(test::quant_tiny_config(), 1), student(test::quant_tiny_config(), 2);
  teacher.eval();
  student.eval();
  zero_grads(student);
  Variable plain = student.masked_loss(kSource, kTargetIn, kTargetOut);
  plain.backward();
  std::vector<Tensor> expected;
  for (const auto& [name, p] : student.named_parameters()) expected.push_back(p.grad().clone());
  zero_grads(student);
  Variable kd = Distillation(teacher, 0.0).loss(student, kSource, kTargetIn, kTargetOut);
  kd.backward();
  CHECK(kd.value().item() == plain.value().item());
  size_t i = 0;
  for (const auto& [name, p] : student.named_parameters()) {
    const Tensor& got = p.grad();
    for (int64_t k = 0; k < got.numel(); ++k) REQUIRE_MESSAGE(got.data()[k] == expected[i].data()[k], name);
    ++i;
  }
}

TEST_CASE("a weight in between mixes the two losses linearly; counts are the student's accuracy") {
  Transformer teacher(test::quant_tiny_config(), 1), student(test::quant_tiny_config(), 2);
  teacher.eval();
  student.eval();
  NoGradGuard no_grad;
  TokenCounts counts, plain_counts;
  const double label = student.masked_loss(kSource, kTargetIn, kTargetOut, &plain_counts).value().item();
  const double soft = Distillation(teacher, 1.0).loss(student, kSource, kTargetIn, kTargetOut).value().item();
  const double mixed = Distillation(teacher, 0.25).loss(student, kSource, kTargetIn, kTargetOut, &counts).value().item();
  CHECK(mixed == doctest::Approx(0.75 * label + 0.25 * soft).epsilon(1e-5));
  CHECK(counts.total == kCounted);
  CHECK(counts.correct == plain_counts.correct);
}

TEST_CASE("bad settings are errors") {
  Transformer teacher(test::quant_tiny_config(), 1);
  CHECK_THROWS_WITH_AS(Distillation(teacher, 0.5), doctest::Contains("eval mode"), NnError);
  teacher.eval();
  CHECK_THROWS_AS(Distillation(teacher, 1.5), NnError);
}

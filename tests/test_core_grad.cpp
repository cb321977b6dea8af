// A finite-difference gradient check for every differentiable op in core/ops.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "gradcheck.h"

using namespace bcqnmt;
using bcqnmt::testing::check_gradients;
using bcqnmt::testing::random_tensor;

namespace {
Rng g_rng(42);
Variable param(const Shape& shape, float lo = -1.0f, float hi = 1.0f) {
  return Variable(random_tensor(shape, g_rng, lo, hi), true);
}
using Xs = std::vector<Variable>;
}  // namespace

TEST_CASE("element-wise ops with broadcasting over leading dimensions") {
  check_gradients("add", [](Xs& x) { return add(x[0], x[1]); }, {param({3, 4}), param({3, 4})});
  check_gradients("add broadcast", [](Xs& x) { return add(x[0], x[1]); }, {param({2, 3, 4}), param({4})});
  check_gradients("add broadcast left", [](Xs& x) { return add(x[0], x[1]); }, {param({3, 4}), param({2, 3, 4})});
  check_gradients("sub broadcast", [](Xs& x) { return sub(x[0], x[1]); }, {param({2, 3, 4}), param({3, 4})});
  check_gradients("mul broadcast", [](Xs& x) { return mul(x[0], x[1]); }, {param({2, 3, 4}), param({4})});
  check_gradients("div broadcast", [](Xs& x) { return div(x[0], x[1]); }, {param({2, 3, 4}), param({4}, 0.5f, 2.0f)});
  check_gradients("add_scalar", [](Xs& x) { return add_scalar(x[0], 3.0f); }, {param({5})});
  check_gradients("mul_scalar", [](Xs& x) { return mul_scalar(x[0], -1.5f); }, {param({5})});
  // relu away from its kink: finite differences straddling 0 are meaningless.
  Variable r = param({4, 6});
  for (int64_t i = 0; i < r.numel(); ++i) r.value().data()[i] += r.value().data()[i] > 0 ? 0.1f : -0.1f;
  check_gradients("relu", [](Xs& x) { return relu(x[0]); }, {r});
  check_gradients("gelu", [](Xs& x) { return gelu(x[0]); }, {param({4, 6}, -3.0f, 3.0f)});
}

TEST_CASE("matmul: 2-D, batched, broadcast weight, and every transpose") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape sa = ta ? Shape{5, 3} : Shape{3, 5};
      Shape sb = tb ? Shape{4, 5} : Shape{5, 4};
      check_gradients("matmul 2-D", [=](Xs& x) { return matmul(x[0], x[1], ta, tb); }, {param(sa), param(sb)});
      Shape ba = ta ? Shape{2, 3, 5, 3} : Shape{2, 3, 3, 5};
      Shape bb = tb ? Shape{2, 3, 4, 5} : Shape{2, 3, 5, 4};
      check_gradients("matmul batched", [=](Xs& x) { return matmul(x[0], x[1], ta, tb); }, {param(ba), param(bb)});
    }
  check_gradients("matmul [B, T, D] x [D, N]", [](Xs& x) { return matmul(x[0], x[1]); }, {param({2, 3, 5}), param({5, 4})});
  check_gradients("matmul [B, T, D] x [N, D]^T", [](Xs& x) { return matmul(x[0], x[1], false, true); },
                  {param({2, 3, 5}), param({4, 5})});
}

TEST_CASE("fused linear, with and without bias, equals matmul + add") {
  check_gradients("linear", [](Xs& x) { return linear(x[0], x[1], x[2]); }, {param({2, 3, 5}), param({5, 4}), param({4})});
  check_gradients("linear no bias", [](Xs& x) { return linear(x[0], x[1], Variable()); }, {param({3, 5}), param({5, 4})});
  Variable x = param({6, 5}), w = param({5, 4}), b = param({4});
  Tensor fused = linear(x, w, b).value(), composed = add(matmul(x, w), b).value();
  for (int64_t i = 0; i < fused.numel(); ++i) CHECK(fused.data()[i] == doctest::Approx(composed.data()[i]).epsilon(1e-6));
}

TEST_CASE("shape ops") {
  check_gradients("reshape", [](Xs& x) { return reshape(x[0], {6, -1}); }, {param({2, 3, 4})});
  check_gradients("permute", [](Xs& x) { return permute(x[0], {2, 0, 3, 1}); }, {param({2, 3, 4, 5})});
  check_gradients("transpose", [](Xs& x) { return transpose(x[0], 0, 2); }, {param({2, 3, 4})});
  check_gradients("slice middle dim", [](Xs& x) { return slice(x[0], 1, 1, 3); }, {param({2, 4, 3})});
  check_gradients("slice last dim", [](Xs& x) { return slice(x[0], -1, 2, 5); }, {param({3, 6})});
  check_gradients("concat", [](Xs& x) { return concat({x[0], x[1], x[2]}, 1); },
                  {param({2, 1, 3}), param({2, 4, 3}), param({2, 2, 3})});
  check_gradients("concat last", [](Xs& x) { return concat({x[0], x[1]}, -1); }, {param({2, 3}), param({2, 5})});
}

TEST_CASE("softmax with an additive broadcast mask, log-softmax, layer-norm") {
  check_gradients("softmax", [](Xs& x) { return softmax(x[0]); }, {param({3, 7}, -2.0f, 2.0f)});
  // A [B, 1, T, T] causal mask broadcast over heads, and a [B, 1, 1, T] padding mask.
  Tensor causal = Tensor::zeros({2, 1, 4, 4});
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 4; ++i)
      for (int j = i + 1; j < 4; ++j) causal.data()[(b * 4 + i) * 4 + j] = -1e9f;
  check_gradients("softmax causal mask", [&](Xs& x) { return softmax(x[0], causal); }, {param({2, 3, 4, 4}, -2.0f, 2.0f)});
  Tensor padding = Tensor::zeros({2, 1, 1, 4});
  padding.data()[3] = padding.data()[6] = padding.data()[7] = -1e9f;
  check_gradients("softmax padding mask", [&](Xs& x) { return softmax(x[0], padding); }, {param({2, 3, 4, 4}, -2.0f, 2.0f)});
  check_gradients("log_softmax", [](Xs& x) { return log_softmax(x[0]); }, {param({3, 7}, -2.0f, 2.0f)});
  check_gradients("layer_norm", [](Xs& x) { return layer_norm(x[0], x[1], x[2], 1e-3f); },
                  {param({2, 3, 8}, -2.0f, 2.0f), param({8}, 0.5f, 1.5f), param({8})});
}

TEST_CASE("softmax mask really removes masked positions") {
  Tensor mask = Tensor::from({1, 3}, {0.0f, -1e9f, 0.0f});
  Variable y = softmax(Variable(Tensor::from({2, 3}, {1, 5, 1, 2, 9, 2})), mask);
  CHECK(y.value().data()[1] == 0.0f);
  CHECK(y.value().data()[0] == doctest::Approx(0.5f));
  CHECK(y.value().data()[5] == doctest::Approx(0.5f));
}

TEST_CASE("embedding, dropout, cross-entropy, reductions") {
  IndexTensor ids{{2, 3}, {0, 4, 4, 1, 0, 2}};  // repeated ids accumulate
  check_gradients("embedding", [&](Xs& x) { return embedding(x[0], ids); }, {param({5, 3})});
  check_gradients("dropout", [](Xs& x) {
    Rng rng(7);  // the same mask on every evaluation
    return dropout(x[0], 0.3f, rng, true);
  }, {param({4, 16})});
  IndexTensor labels{{2, 3}, {1, 0, 4, 2, 3, 0}};  // 0 is the ignored pad label
  check_gradients("cross_entropy", [&](Xs& x) { return cross_entropy(x[0], labels, 0); }, {param({2, 3, 5}, -2.0f, 2.0f)});
  check_gradients("linear_cross_entropy", [&](Xs& x) { return linear_cross_entropy(x[0], x[1], x[2], labels, 0); },
                  {param({2, 3, 4}), param({4, 5}), param({5})});
  Rng rng(11);
  Tensor target = softmax(Variable(random_tensor({2, 3, 5}, rng, -2.0f, 2.0f))).value();
  check_gradients("kl_divergence", [&](Xs& x) { return kl_divergence(x[0], target, labels, 0); },
                  {param({2, 3, 5}, -2.0f, 2.0f)});
  check_gradients("sum", [](Xs& x) { return sum(x[0]); }, {param({3, 4})});
  check_gradients("mean", [](Xs& x) { return mean(x[0]); }, {param({3, 4})});
}

TEST_CASE("kl_divergence against a one-hot target is cross_entropy; against itself it is 0") {
  Rng rng(5);
  const Tensor logits = random_tensor({4, 6}, rng, -3.0f, 3.0f);
  IndexTensor labels{{4}, {2, 0, 5, 1}};  // row 1 is pad
  Tensor one_hot = Tensor::zeros({4, 6});
  for (int r = 0; r < 4; ++r) one_hot.data()[r * 6 + labels.data[r]] = 1.0f;
  const float kl = kl_divergence(Variable(logits), one_hot, labels, 0).value().item();
  CHECK(kl == doctest::Approx(cross_entropy(Variable(logits), labels, 0).value().item()).epsilon(1e-5));
  const Tensor self = softmax(Variable(logits)).value();
  CHECK(std::abs(kl_divergence(Variable(logits), self, labels, 0).value().item()) < 1e-5f);
}

TEST_CASE("a value used twice accumulates both gradients") {
  // y = x*x + 3x -> dy/dx = 2x + 3
  Variable x(Tensor::from({3}, {1.0f, -2.0f, 0.5f}), true);
  Variable y = sum(add(mul(x, x), mul_scalar(x, 3.0f)));
  y.backward();
  CHECK(x.grad().data()[0] == doctest::Approx(5.0f));
  CHECK(x.grad().data()[1] == doctest::Approx(-1.0f));
  CHECK(x.grad().data()[2] == doctest::Approx(4.0f));
  check_gradients("diamond", [](Xs& v) {
    Variable h = gelu(v[0]);
    return add(mul(h, v[0]), softmax(h));
  }, {param({3, 4})});
}

TEST_CASE("fused attention: gradient check, and equal to the composed reference path") {
  // B=2, Tq=3, Tk=4, H=2, K=3; the second sequence has one padded key.
  for (bool causal : {false, true}) {
    AttentionMask mask{{4, 3}, causal};
    const int64_t tq = causal ? 4 : 3;
    for (float rate : {0.0f, 0.25f}) {
      auto fused = [&](Xs& x) {
        Rng rng(9);
        return attention(x[0], x[1], x[2], mask, 2, rate, rng, true);
      };
      auto reference = [&](Xs& x) {
        Rng rng(9);
        return attention_reference(x[0], x[1], x[2], mask, 2, rate, rng, true);
      };
      std::vector<Variable> inputs{param({2, tq, 6}), param({2, 4, 6}), param({2, 4, 6})};
      check_gradients(causal ? "attention causal" : "attention padding", fused, inputs);
      for (auto& x : inputs) x.zero_grad();
      Variable a = fused(inputs);
      sum(mul(a, a)).backward();
      std::vector<Tensor> fused_grads;
      for (auto& x : inputs) fused_grads.push_back(x.grad().clone()), x.zero_grad();
      Variable b = reference(inputs);
      sum(mul(b, b)).backward();
      for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.value().data()[i] == doctest::Approx(b.value().data()[i]).epsilon(1e-5));
      for (size_t n = 0; n < inputs.size(); ++n)
        for (int64_t i = 0; i < inputs[n].numel(); ++i)
          CHECK(fused_grads[n].data()[i] == doctest::Approx(inputs[n].grad().data()[i]).epsilon(1e-4));
    }
  }
}

TEST_CASE("linear_cross_entropy over several row blocks equals linear + cross_entropy") {
  // 1,100 rows: two full 512-row blocks and a partial one; pads (label 0) spread through.
  Rng rng(8);
  const int64_t rows = 1100, d = 16, v = 37;
  IndexTensor labels{{rows}, std::vector<int32_t>(rows)};
  for (int64_t r = 0; r < rows; ++r) labels.data[r] = r % 7 == 0 ? 0 : 1 + static_cast<int32_t>(rng.below(v - 1));
  const Tensor x0 = random_tensor({rows, d}, rng), w0 = random_tensor({d, v}, rng), b0 = random_tensor({v}, rng);
  struct Result {
    float loss;
    int64_t hits;
    std::vector<float> dx, dw, db;
  };
  auto run = [&](bool fused) {
    Variable x(x0.clone(), true), w(w0.clone(), true), b(b0.clone(), true);
    Result r{};
    Variable loss;
    if (fused) {
      loss = linear_cross_entropy(x, w, b, labels, 0, &r.hits);
    } else {
      const Variable logits = linear(x, w, b);
      for (int64_t i = 0; i < rows; ++i) {
        if (labels.data[i] == 0) continue;
        const float* z = logits.value().data() + i * v;
        r.hits += std::max_element(z, z + v) - z == labels.data[i];
      }
      loss = cross_entropy(logits, labels, 0);
    }
    loss.backward();
    r.loss = loss.value().item();
    r.dx = x.grad().to_vector();
    r.dw = w.grad().to_vector();
    r.db = b.grad().to_vector();
    return r;
  };
  const Result fused = run(true), composed = run(false);
  CHECK(fused.loss == doctest::Approx(composed.loss).epsilon(1e-6));
  CHECK(fused.hits == composed.hits);
  CHECK(fused.hits > 0);
  auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
      scale = std::max(scale, static_cast<double>(std::abs(b[i])));
    }
    return worst <= 1e-5 * scale;
  };
  CHECK(close(fused.dx, composed.dx));
  CHECK(close(fused.dw, composed.dw));
  CHECK(close(fused.db, composed.db));
}

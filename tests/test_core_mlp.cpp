// A two-layer MLP built from core ops learns a separable toy problem with plain SGD.
#include <doctest/doctest.h>

#include <cmath>

#include "core/ops.h"
#include "gradcheck.h"

using namespace bcqnmt;

TEST_CASE("MLP with plain SGD learns XOR of quadrants (not linearly separable)") {
  // Data: points in [-1, 1]^2, class = quadrant parity (XOR of the signs): not linearly
  // separable, so the hidden layer must do real work.
  Rng rng(11);
  const int64_t n = 512, hidden = 32;
  Tensor xs({n, 2});
  IndexTensor ys{{n}, std::vector<int32_t>(n)};
  for (int64_t i = 0; i < n; ++i) {
    float a = rng.uniform(-1, 1), b = rng.uniform(-1, 1);
    if (std::abs(a) < 0.1f) a += a < 0 ? -0.1f : 0.1f;  // a margin around the boundaries
    if (std::abs(b) < 0.1f) b += b < 0 ? -0.1f : 0.1f;
    xs.data()[2 * i] = a;
    xs.data()[2 * i + 1] = b;
    ys.data[i] = (a > 0) != (b > 0);
  }
  Variable w1(testing::random_tensor({2, hidden}, rng), true), b1(Tensor::zeros({hidden}), true);
  Variable w2(testing::random_tensor({hidden, 2}, rng, -0.3f, 0.3f), true), b2(Tensor::zeros({2}), true);
  std::vector<Variable> params{w1, b1, w2, b2};
  Variable x(xs);
  auto forward = [&] { return add(matmul(relu(add(matmul(x, w1), b1)), w2), b2); };
  float first_loss = 0.0f, last_loss = 0.0f;
  for (int step = 0; step < 1500; ++step) {
    for (auto& p : params) p.zero_grad();
    Variable loss = cross_entropy(forward(), ys, -1);
    loss.backward();
    if (step == 0) first_loss = loss.value().item();
    last_loss = loss.value().item();
    for (auto& p : params)
      for (int64_t i = 0; i < p.numel(); ++i) p.value().data()[i] -= 0.5f * p.grad().data()[i];
  }
  NoGradGuard no_grad;
  Tensor logits = forward().value();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += (logits.data()[2 * i + 1] > logits.data()[2 * i]) == (ys.data[i] == 1);
  const double accuracy = static_cast<double>(correct) / n;
  MESSAGE("MLP loss " << first_loss << " -> " << last_loss << ", accuracy " << accuracy);
  CHECK(accuracy >= 0.99);
}

// Adam, the Noam schedule and gradient clipping against hand-derived values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/ops.h"
#include "core/parallel.h"
#include "core/random.h"
#include "optim/adam.h"
#include "optim/checkpoint_error.h"
#include "optim/clip_grad_norm.h"
#include "optim/learning_rate_schedule.h"

using namespace bcqnmt;

namespace {
void set_grad(Variable& v, std::vector<float> g) { v.grad() = Tensor::from(v.shape(), g); }
}  // namespace

TEST_CASE("Adam matches a hand-computed 3-step example (Keras placement of epsilon)") {
  // One scalar parameter p0 = 1, lr = 0.1, beta1 = 0.9, beta2 = 0.98, and a deliberately large
  // epsilon = 0.01 so that its placement shows: the Keras form below and PyTorch's
  // lr m_hat / (sqrt(v_hat) + eps) end 0.0044 apart after three steps (0.84429 vs 0.83994).
  // Gradients g1 = 2, g2 = -1, g3 = 0.5. alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t).
  // t=1: m = 0.1*2 = 0.2;                  v = 0.02*4 = 0.08
  //      alpha = 0.1*sqrt(0.02)/0.1 = 0.1414213562; sqrt(v) = 0.2828427125
  //      update = 0.1414213562*0.2/(0.2828427125+0.01) = 0.0965851976 -> p = 0.9034148024
  // t=2: m = 0.9*0.2 + 0.1*(-1) = 0.08;     v = 0.98*0.08 + 0.02*1 = 0.0984
  //      alpha = 0.1*sqrt(1-0.9604)/(1-0.81) = 0.1*0.1989974874/0.19 = 0.1047355197
  //      sqrt(v) = 0.3136877428; update = 0.1047355197*0.08/0.3236877428 = 0.0258855695
  //      -> p = 0.8775292329
  // t=3: m = 0.9*0.08 + 0.1*0.5 = 0.122;    v = 0.98*0.0984 + 0.02*0.25 = 0.101432
  //      alpha = 0.1*sqrt(1-0.941192)/(1-0.729) = 0.1*0.2425036082/0.271 = 0.0894847263
  //      sqrt(v) = 0.3184839085; update = 0.0894847263*0.122/0.3284839085 = 0.0332349206
  //      -> p = 0.8442943123
  Variable p(Tensor::from({1}, {1.0f}), true);
  Variable idle(Tensor::from({2}, {3.0f, 4.0f}), true);  // never gets a gradient
  Adam adam({p, idle}, AdamOptions{0.9, 0.98, 0.01});
  const std::vector<float> grads = {2.0f, -1.0f, 0.5f};
  const std::vector<double> expected_p = {0.9034148024, 0.8775292329, 0.8442943123};
  const std::vector<double> expected_m = {0.2, 0.08, 0.122};
  const std::vector<double> expected_v = {0.08, 0.0984, 0.101432};
  for (int t = 0; t < 3; ++t) {
    adam.zero_grad();
    set_grad(p, {grads[t]});
    adam.step(0.1);
    CHECK(adam.state().step == t + 1);
    CHECK(p.value().item() == doctest::Approx(expected_p[t]).epsilon(1e-6));
    CHECK(adam.state().first_moment[0].item() == doctest::Approx(expected_m[t]).epsilon(1e-6));
    CHECK(adam.state().second_moment[0].item() == doctest::Approx(expected_v[t]).epsilon(1e-6));
  }
  // A parameter without a gradient and its moments stay as they were.
  CHECK(idle.value().to_vector() == std::vector<float>{3.0f, 4.0f});
  CHECK(adam.state().first_moment[1].to_vector() == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("Adam defaults are the reference protocol's") {
  AdamOptions o;
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.98);
  CHECK(o.epsilon == 1e-9);
}

TEST_CASE("Adam solves a least-squares problem") {
  // min_w mean((A w - b)^2) with b = A w*: convex, unique minimiser w* (A has full column rank
  // with probability 1).
  Rng rng(42);
  std::vector<float> a_values(32 * 4);
  for (float& x : a_values) x = rng.normal();
  const std::vector<float> w_true = {0.5f, -1.25f, 2.0f, 0.75f};
  std::vector<float> b_values(32, 0.0f);
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 4; ++j) b_values[i] += a_values[i * 4 + j] * w_true[j];
  Variable a(Tensor::from({32, 4}, a_values));
  Variable b(Tensor::from({32, 1}, b_values));
  Variable w(Tensor::zeros({4, 1}), true);
  Adam adam({w});
  double first_loss = 0.0, loss_value = 0.0;
  for (int step = 0; step < 1500; ++step) {
    adam.zero_grad();
    Variable r = matmul(a, w) - b;
    Variable loss = mean(r * r);
    loss.backward();
    loss_value = loss.value().item();
    if (step == 0) first_loss = loss_value;
    adam.step(step < 1000 ? 0.05 : 0.005);
  }
  MESSAGE("least squares: loss " << first_loss << " -> " << loss_value);
  CHECK(loss_value < 1e-6 * first_loss);
  for (int j = 0; j < 4; ++j) CHECK(w.value().data()[j] == doctest::Approx(w_true[j]).epsilon(1e-3));
}

TEST_CASE("Adam's update is bit-identical for 1 and 2 threads") {
  auto run = [](int threads) {
    set_num_threads(threads);
    Rng rng(7);
    const int64_t n = 200000;  // several parallel blocks
    std::vector<float> init(n), grad(n);
    for (auto& x : init) x = rng.normal();
    Variable p(Tensor::from({n}, init), true);
    Adam adam({p});
    for (int t = 0; t < 3; ++t) {
      for (auto& g : grad) g = rng.normal();
      p.grad() = Tensor::from({n}, grad);
      adam.step(1e-3);
    }
    return p.value().to_vector();
  };
  const auto one = run(1);
  const auto two = run(2);
  set_num_threads(0);
  CHECK(one == two);
}

TEST_CASE("Adam::load_state rejects a state of another shape") {
  Variable p(Tensor::zeros({2, 3}), true);
  Adam adam({p});
  AdamState wrong;
  wrong.first_moment = {Tensor::zeros({3, 2})};
  wrong.second_moment = {Tensor::zeros({3, 2})};
  CHECK_THROWS_WITH_AS(adam.load_state(wrong), doctest::Contains("shape [3, 2]"), CheckpointError);
  AdamState right;
  right.step = 5;
  right.first_moment = {Tensor::full({2, 3}, 1.0f)};
  right.second_moment = {Tensor::full({2, 3}, 2.0f)};
  adam.load_state(right);
  CHECK(adam.state().step == 5);
  CHECK(adam.state().second_moment[0].to_vector() == std::vector<float>(6, 2.0f));
}

TEST_CASE("noam_learning_rate gives the formula's values") {
  // d_model^-0.5 * min(s^-0.5, s * warmup^-1.5), d_model 128, warmup 4000:
  // s = 1:     128^-0.5 * 1 * 4000^-1.5       = 0.0883883476 * 3.952847e-6 = 3.493856e-7
  // s = 4000:  128^-0.5 * 4000^-0.5 (peak)   = 0.0883883476 * 0.0158113883 = 0.0013975425
  // s = 16000: 128^-0.5 * 16000^-0.5         = 0.0883883476 * 0.0079056942 = 0.0006987712
  CHECK(noam_learning_rate(1, 128, 4000) == doctest::Approx(3.493856214843422e-07).epsilon(1e-12));
  CHECK(noam_learning_rate(4000, 128, 4000) == doctest::Approx(0.0013975424859373686).epsilon(1e-12));
  CHECK(noam_learning_rate(16000, 128, 4000) == doctest::Approx(0.0006987712429686843).epsilon(1e-12));
  CHECK(noam_learning_rate(3999, 128, 4000) < noam_learning_rate(4000, 128, 4000));
  CHECK(noam_learning_rate(4001, 128, 4000) < noam_learning_rate(4000, 128, 4000));
}

TEST_CASE("linear_decay_learning_rate warms up to the peak, then falls on a line that ends after the last step") {
  // peak 0.01, warm-up 4, total 10: 0.0025 0.005 0.0075 0.01, then 0.01 * (11 - s) / 7 for s = 5..10.
  const LinearDecay decay{0.01, 4};
  const std::vector<double> expected = {0.0, 0.0025, 0.005, 0.0075, 0.01, 0.06 / 7, 0.05 / 7, 0.04 / 7,
                                        0.03 / 7, 0.02 / 7, 0.01 / 7, 0.0, 0.0};
  for (int64_t s = 0; s < static_cast<int64_t>(expected.size()); ++s) {
    CAPTURE(s);
    CHECK(linear_decay_learning_rate(s, decay, 10) == doctest::Approx(expected[s]).epsilon(1e-12));
  }
  // No warm-up: the line starts at the peak at step 0, so the first step takes 10/11 of it.
  CHECK(linear_decay_learning_rate(1, LinearDecay{0.01, 0}, 10) == doctest::Approx(0.01 * 10 / 11));
  // A warm-up as long as the phase never decays.
  CHECK(linear_decay_learning_rate(10, LinearDecay{0.01, 20}, 10) == doctest::Approx(0.005));
}

TEST_CASE("gradient_norm is the global norm; clip_grad_norm scales all gradients together") {
  // Gradients [3] and [4] (a third parameter has none): global norm sqrt(9 + 16) = 5.
  Variable a(Tensor::zeros({1}), true), b(Tensor::zeros({1}), true), none(Tensor::zeros({1}), true);
  set_grad(a, {3.0f});
  set_grad(b, {4.0f});
  const double norm = gradient_norm({a, b, none});
  CHECK(norm == doctest::Approx(5.0));
  clip_grad_norm({a, b, none}, norm, 10.0);
  CHECK(a.grad().item() == 3.0f);  // under the limit: untouched
  clip_grad_norm({a, b, none}, norm, 1.0);
  CHECK(a.grad().item() == doctest::Approx(0.6));
  CHECK(b.grad().item() == doctest::Approx(0.8));
  CHECK_FALSE(none.grad().defined());
  // A NaN anywhere makes the norm NaN, which is what the trainer's non-finite guard reads.
  set_grad(b, {std::numeric_limits<float>::quiet_NaN()});
  CHECK(std::isnan(gradient_norm({a, b, none})));
}

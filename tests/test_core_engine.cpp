// The autograd engine's contract: views, no-grad, graph freeing, determinism, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/execution_context.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/vector_math.h"
#include "gradcheck.h"

using namespace bcqnmt;

TEST_CASE("tensor storage is 64-byte aligned and reshape is a view") {
  Tensor t = Tensor::zeros({3, 5});
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  Tensor v = t.reshape({5, -1});
  CHECK(v.shape() == Shape{5, 3});
  v.data()[4] = 7.0f;
  CHECK(t.data()[4] == 7.0f);
  CHECK(t.rows(1, 3).data()[0] == t.data()[5]);
  CHECK_THROWS_AS(t.reshape({4, 4}), CoreError);
}

TEST_CASE("no-grad guard records nothing; the graph is freed after backward") {
  Variable w(Tensor::full({2, 2}, 1.0f), true);
  {
    NoGradGuard guard;
    Variable y = matmul(w, w);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.node()->inputs.empty());
  }
  Variable h = relu(matmul(w, w));
  Variable loss = sum(h);
  std::weak_ptr<Node> hidden = h.node();
  h = Variable();
  CHECK_FALSE(hidden.expired());  // still held by the graph
  loss.backward();
  CHECK(hidden.expired());  // freed by the walk
  CHECK(loss.node()->inputs.empty());
  // d sum(W W) / dW = 1 W^T + W^T 1 = 4 everywhere for W = ones(2, 2).
  CHECK(w.grad().data()[0] == doctest::Approx(4.0f));
}

// The execution context is per thread (a scope on one thread changes nothing on another),
// and parallel_for carries the caller's context into the threads that run its chunks:
// a thread_local alone would leave them on the default context.
TEST_CASE("execution context: scoped per thread, and seen by every parallel_for block") {
  set_num_threads(2);
  std::atomic<int> reference_blocks{0}, blocks{0};
  std::set<std::thread::id> threads;
  std::mutex mutex;
  {
    const KernelPathScope reference(KernelPath::reference);
    std::thread other([] { CHECK(kernel_path() == KernelPath::fast); });
    other.join();
    parallel_for(4096, 1, [&](int64_t, int64_t) {
      ++blocks;
      reference_blocks += kernel_path() == KernelPath::reference;
      volatile double spin = 0.0;  // long enough blocks that the other worker takes some
      for (int i = 0; i < 20000; ++i) spin = spin + i;
      const std::lock_guard lock(mutex);
      threads.insert(std::this_thread::get_id());
    });
    CHECK(kernel_path() == KernelPath::reference);
  }
  CHECK(reference_blocks == blocks);
  MESSAGE(blocks.load() << " blocks on " << threads.size() << " threads");
  CHECK(kernel_path() == KernelPath::fast);  // restored when the scope ended
}

TEST_CASE("shape errors are clear exceptions, not crashes") {
  Variable a(Tensor::zeros({2, 3})), b(Tensor::zeros({4, 5}));
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("inner dimensions differ"), CoreError);
  CHECK_THROWS_AS(add(a, b), CoreError);
  CHECK_THROWS_AS(embedding(b, IndexTensor{{1}, {9}}), CoreError);
  CHECK_THROWS_AS(cross_entropy(a, IndexTensor{{2}, {0, 3}}, -1), CoreError);
}

TEST_CASE("same seed and thread count give bit-identical results") {
  auto run = [] {
    Rng rng(5);
    Variable x(testing::random_tensor({64, 300}, rng), true);
    Variable g(Tensor::full({300}, 1.0f), true), b(Tensor::zeros({300}), true);
    Variable y = dropout(layer_norm(x, g, b, 1e-3f), 0.1f, rng, true);
    Variable loss = cross_entropy(y, IndexTensor{{64}, std::vector<int32_t>(64, 3)}, -1);
    loss.backward();
    return std::make_pair(loss.value().item(), g.grad().to_vector());
  };
  auto first = run();
  auto second = run();
  CHECK(first.first == second.first);
  CHECK(first.second == second.second);
}

TEST_CASE("dropout keeps 1 - rate of the values, scaled, and is the identity in eval") {
  Rng rng(3);
  Variable x(Tensor::full({100000}, 1.0f));
  Variable y = dropout(x, 0.25f, rng, true);
  int64_t kept = 0;
  for (float v : y.value().to_vector()) {
    if (v != 0.0f) {
      CHECK(v == doctest::Approx(1.0f / 0.75f));
      ++kept;
    }
  }
  CHECK(kept == doctest::Approx(75000).epsilon(0.01));
  CHECK(dropout(x, 0.25f, rng, false).node() == x.node());
}

TEST_CASE("vectorised exp matches std::exp and underflows to exact zero") {
  float worst = 0.0f;
  for (float x = -80.0f; x < 80.0f; x += 0.0137f)
    worst = std::max(worst, std::abs(vector_math_exp(x) - std::exp(x)) / std::exp(x));
  MESSAGE("max relative error of vector_math_exp over [-80, 80]: " << worst);
  CHECK(worst < 1e-6f);
  CHECK(vector_math_exp(-1e9f) == 0.0f);
  CHECK(vector_math_exp(-INFINITY) == 0.0f);
  CHECK(std::isnan(vector_math_exp(NAN)));
}

// Each ISA's kernels against plain scalar code (std::exp in double, std::max_element,
// std::find_if), at lengths around every vector and block boundary (4, 8, 16 lanes; first_above
// tests blocks of 4 vectors), with masked (-1e9, -inf) entries. An ISA this CPU lacks is
// skipped with a message (a CPU without AVX-512 skips one of the three).
TEST_CASE("vector_math kernels of every ISA equal the plain scalar computation") {
  Rng rng(21);
  std::vector<float> xs = rng.normals(7010);
  for (float& x : xs) x *= 4.0f;
  xs[5] = -1e9f;
  xs[40] = -INFINITY;
  for (VectorIsa isa : {VectorIsa::sse2, VectorIsa::avx2, VectorIsa::avx512}) {
    CAPTURE(vector_isa_name(isa));
    if (!vector_isa_supported(isa)) {
      MESSAGE("SKIPPED: the " << vector_isa_name(isa) << " vector_math kernels: this CPU lacks the ISA");
      continue;
    }
    const VectorMathKernels& k = vector_math_kernels(isa);
    for (int64_t n : {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, 7010}) {
      CAPTURE(n);
      const float top = n == 0 ? -INFINITY : *std::max_element(xs.begin(), xs.begin() + n);
      CHECK(k.max_of(xs.data(), n) == top);
      const float shift = n == 0 ? 0.0f : top;
      std::vector<float> out(static_cast<size_t>(n) + 1, 123.0f);  // one more: must stay untouched
      const float total = k.exp_shifted(xs.data(), n, shift, out.data());
      double expected = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double e = std::exp(static_cast<double>(xs[i]) - shift);
        expected += e;
        CHECK(out[i] == doctest::Approx(e).epsilon(1e-6));
      }
      CHECK(out[n] == 123.0f);
      CHECK(total == doctest::Approx(expected).epsilon(1e-5));
      CHECK(k.exp_shifted(xs.data(), n, shift, nullptr) == total);  // only sums: the same lanes
      if (n > 40) CHECK((out[5] == 0.0f && out[40] == 0.0f));
      std::vector<float> in_place(xs.begin(), xs.begin() + n);
      CHECK(k.exp_shifted(in_place.data(), n, shift, in_place.data()) == total);
      CHECK(std::equal(in_place.begin(), in_place.end(), out.begin()));
      for (int64_t from : {int64_t{0}, int64_t{1}, n / 2})
        for (float threshold : {-10.0f, 0.0f, 6.0f, 9.0f, 100.0f}) {
          const auto plain = std::find_if(xs.begin() + from, xs.begin() + n, [&](float x) { return x > threshold; });
          CHECK(k.first_above(xs.data(), from, n, threshold) == plain - xs.begin());
        }
    }
    const std::vector<float> with_nan{1.0f, NAN, 3.0f, 2.0f};
    CHECK(k.max_of(with_nan.data(), 4) == 3.0f);  // NaNs are skipped
    const std::vector<float> ties(70, 1.0f);
    CHECK(k.first_above(ties.data(), 0, 70, 1.0f) == 70);  // strictly above
  }
}

TEST_CASE("attention_prefix reads only the cache's first tk positions and equals the reference path") {
  // A decoding cache: B=2, capacity 6, of which tk=4 positions are filled; H=2, K=3. The
  // unfilled tail holds huge values, so reading it would show in the output.
  Rng rng(5);
  const int64_t b = 2, capacity = 6, tk = 4, width = 6;
  Tensor k = testing::random_tensor({b, capacity, width}, rng), v = testing::random_tensor({b, capacity, width}, rng);
  for (Tensor* t : {&k, &v})
    for (int64_t n = 0; n < b; ++n)
      for (int64_t i = tk * width; i < capacity * width; ++i) t->data()[n * capacity * width + i] = 1e6f;
  for (const int64_t tq : {int64_t{1}, int64_t{3}}) {
    const AttentionMask mask{{4, 3}, tq > 1};
    const Tensor q = testing::random_tensor({b, tq, width}, rng);
    const Tensor fast = attention_prefix(q, k, v, tk, mask, 2);
    Rng unused(0);
    const Tensor plain = attention_reference(Variable(q), slice(Variable(k), 1, 0, tk), slice(Variable(v), 1, 0, tk),
                                             mask, 2, 0.0f, unused, false)
                             .value();
    REQUIRE(fast.shape() == plain.shape());
    for (int64_t i = 0; i < fast.numel(); ++i) CHECK(fast.data()[i] == doctest::Approx(plain.data()[i]).epsilon(1e-5));
  }
  CHECK_THROWS_AS(attention_prefix(testing::random_tensor({b, 1, width}, rng), k, v, capacity + 1, AttentionMask{{4, 3}, false}, 2),
                  CoreError);
}

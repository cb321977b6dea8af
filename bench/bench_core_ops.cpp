// The core ops a Transformer step spends its time in, each beside a baseline measured in the
// same run:
//   - matmul and linear (forward, forward + backward through Variable::backward) against raw
//     cblas_sgemm on the model's dense shapes (M = 2560 tokens): OpenBLAS with 1 thread and
//     with its own 2 threads, and bcqnmt::gemm (the same sgemm split into panels over the 2
//     TBB workers, core/gemm.cpp), so the op's own overhead and the threading policy's cost
//     read separately;
//   - layer_norm and masked softmax in GB/s beside a streaming copy / triad over 512 MiB
//     arrays (larger than the 480 MiB L3 this VM reports);
//   - the fused attention op against the per-(batch, head) cblas_sgemm calls it replaces.
//
// Noise: the machine may be shared. The op and its TBB-only baselines run interleaved inside
// one benchmark (the reported Time is the op's; manual timing), so load changes hit both
// alike. OpenBLAS's own threads spin-wait after each call and would steal the cores from
// TBB, so its 2-thread baseline runs first, in its own benchmarks, and its time per call is
// kept for the ratios.
//
//   build-bench/bench/bench_core_ops                      (about a minute and a half)
//   build-bench/bench/bench_core_ops --benchmark_filter=matmul
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/gemm.h"
#include "core/ops.h"
#include "core/parallel.h"

using namespace bcqnmt;

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kThreads = 2;

template <class F>
double seconds_of(F&& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Minor page faults of the process so far (all threads): a fresh large allocation faults in
// every 4 KiB page on first touch, and the kernel zeroes each one. Independent of load.
int64_t minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

void raw_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

// ---- dense layers ------------------------------------------------------------------------

struct DenseShape {
  int64_t m, k, n;  // X [M, K] x W [K, N]
  std::string name() const {
    return std::string("M").append(std::to_string(m)).append("_K").append(std::to_string(k)).append("_N").append(
        std::to_string(n));
  }
};
const DenseShape kDenseShapes[] = {{2560, 128, 1024}, {2560, 1024, 128}, {2560, 128, 7010}};

// The tensors of one dense layer step; the raw baselines write into preallocated outputs.
struct DenseBuffers {
  DenseShape s;
  Tensor x, w, bias, y, dy, dx, dw;
  explicit DenseBuffers(DenseShape shape)
      : s(shape),
        x(random_tensor({s.m, s.k}, 1)),
        w(random_tensor({s.k, s.n}, 2)),
        bias(random_tensor({s.n}, 3)),
        y(random_tensor({s.m, s.n}, 4)),
        dy(random_tensor({s.m, s.n}, 5)),
        dx(random_tensor({s.m, s.k}, 6)),
        dw(random_tensor({s.k, s.n}, 7)) {}
  double flops(bool backward) const { return (backward ? 6.0 : 2.0) * static_cast<double>(s.m * s.n * s.k); }

  // Y = X W; dX = dY W^T; dW = X^T dY — the three GEMMs of a training step, beta = 0.
  template <class Gemm>
  void pass(Gemm&& g, bool backward) {
    pass_into(g, backward, y, dx, dw);
  }
  // The same into outputs allocated for this pass, as the op allocates them.
  template <class Gemm>
  void pass_fresh(Gemm&& g, bool backward) {
    Tensor fresh_y(y.shape()), fresh_dx(backward ? dx.shape() : Shape{0}), fresh_dw(backward ? dw.shape() : Shape{0});
    pass_into(g, backward, fresh_y, fresh_dx, fresh_dw);
    benchmark::DoNotOptimize(fresh_y.data());
  }
  template <class Gemm>
  void pass_into(Gemm&& g, bool backward, Tensor& out, Tensor& d_x, Tensor& d_w) {
    g(false, false, s.m, s.n, s.k, 1.0f, x.data(), s.k, w.data(), s.n, 0.0f, out.data(), s.n);
    if (!backward) return;
    g(false, true, s.m, s.k, s.n, 1.0f, dy.data(), s.n, w.data(), s.n, 0.0f, d_x.data(), s.k);
    g(true, false, s.k, s.n, s.m, 1.0f, x.data(), s.k, dy.data(), s.n, 0.0f, d_w.data(), s.n);
  }
};

// (shape, backward) -> seconds per pass of raw cblas_sgemm with OpenBLAS's 2 threads.
std::map<std::pair<std::string, bool>, double>& openblas2_seconds() {
  static std::map<std::pair<std::string, bool>, double> m;
  return m;
}

void bench_sgemm_openblas2(benchmark::State& state, DenseShape shape, bool backward) {
  set_num_threads(kThreads);        // TBB pool as everywhere else; it resets OpenBLAS to 1 thread,
  openblas_set_num_threads(kThreads);  // so the baseline's own threads are set right before it runs
  DenseBuffers buf(shape);
  double total = 0.0;
  for (auto _ : state) {
    total += seconds_of([&] { buf.pass(raw_sgemm, backward); });
    benchmark::DoNotOptimize(buf.y.data());
  }
  openblas_set_num_threads(1);
  const double per_pass = total / static_cast<double>(state.iterations());
  openblas2_seconds()[{shape.name(), backward}] = per_pass;
  state.counters["GFLOP/s"] = buf.flops(backward) / per_pass * 1e-9;
  // Let OpenBLAS's workers finish spin-waiting (THREAD_TIMEOUT, ~2^28 cycles) before the
  // TBB benchmarks that follow.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

enum class DenseOp { matmul, linear };

// One benchmark per (op, shape, backward). Each iteration runs raw cblas_sgemm (1 thread),
// bcqnmt::gemm (2 TBB workers) into preallocated outputs and into fresh ones, and the op;
// Time is the op's. The op allocates its outputs and gradients as training does (zero_grad()
// drops the gradients before each step). op/gemm_fresh isolates what the op adds beyond
// allocating its outputs; op_faults counts the op's page faults per pass.
void bench_dense_op(benchmark::State& state, DenseOp op, DenseShape shape, bool backward) {
  set_num_threads(kThreads);
  DenseBuffers buf(shape);
  Variable x(buf.x, true), w(buf.w, true), b(buf.bias, true);
  double blas1 = 0.0, tbb_gemm = 0.0, fresh = 0.0, own = 0.0;
  int64_t faults = 0;
  const auto panel_gemm = [](auto... args) { gemm(args...); };  // gemm() with its default options
  for (auto _ : state) {
    blas1 += seconds_of([&] { buf.pass(raw_sgemm, backward); });
    tbb_gemm += seconds_of([&] { buf.pass(panel_gemm, backward); });
    fresh += seconds_of([&] { buf.pass_fresh(panel_gemm, backward); });
    const int64_t faults_before = minor_faults();
    const double t = seconds_of([&] {
      x.zero_grad();
      w.zero_grad();
      b.zero_grad();
      Variable y = op == DenseOp::matmul ? matmul(x, w) : linear(x, w, b);  // [M, N]
      if (backward) y.backward(buf.dy);
      benchmark::DoNotOptimize(y.value().data());
    });
    faults += minor_faults() - faults_before;
    state.SetIterationTime(t);
    own += t;
  }
  const double n = static_cast<double>(state.iterations());
  const double flops = buf.flops(backward);
  blas1 /= n, tbb_gemm /= n, fresh /= n, own /= n;
  state.counters["GFLOP/s"] = flops / own * 1e-9;
  state.counters["blas1_GFLOP/s"] = flops / blas1 * 1e-9;
  state.counters["gemm_GFLOP/s"] = flops / tbb_gemm * 1e-9;
  state.counters["op/blas1"] = own / blas1;
  state.counters["op/gemm"] = own / tbb_gemm;  // the op's own overhead over the GEMMs it calls
  state.counters["op/gemm_fresh"] = own / fresh;
  state.counters["op_faults"] = static_cast<double>(faults) / n;
  const auto base = openblas2_seconds().find({shape.name(), backward});
  if (base != openblas2_seconds().end()) {
    state.counters["op/blas2"] = own / base->second;
    state.counters["overhead_%"] = 100.0 * (own / std::min(blas1, base->second) - 1.0);  // vs the faster raw
  }
}

// ---- memory bandwidth ----------------------------------------------------------------------

// Three 512 MiB arrays, built once. Byte model as STREAM's: copy a = b moves 2 x 512 MiB,
// triad a = b + s c moves 3 x 512 MiB; the write-allocate reads of plain stores are not
// counted, as STREAM does not.
constexpr int64_t kStreamFloats = int64_t{128} << 20;
std::vector<float>& stream_array(int i) {
  static std::vector<std::vector<float>> arrays(3, std::vector<float>(static_cast<size_t>(kStreamFloats), 1.0f));
  return arrays[static_cast<size_t>(i)];
}
double g_stream_gbs = 0.0;  // best 2-thread figure of this run: the reference for the GB/s ratios

void bench_stream(benchmark::State& state, bool triad, int threads) {
  set_num_threads(threads);
  float* a = stream_array(0).data();
  const float* b = stream_array(1).data();
  const float* c = stream_array(2).data();
  const int64_t grain = (kStreamFloats + threads - 1) / threads;  // one contiguous block per thread
  double total = 0.0;
  for (auto _ : state) {
    total += seconds_of([&] {
      parallel_for(kStreamFloats, grain, [&](int64_t lo, int64_t hi) {
        if (triad)
          for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0f * c[i];
        else
          for (int64_t i = lo; i < hi; ++i) a[i] = b[i];
      });
    });
    benchmark::DoNotOptimize(a);
    benchmark::ClobberMemory();
  }
  const double bytes = (triad ? 3.0 : 2.0) * static_cast<double>(kStreamFloats) * sizeof(float);
  const double gbs = bytes / (total / static_cast<double>(state.iterations())) * 1e-9;
  state.counters["GB/s"] = gbs;
  if (threads == kThreads) g_stream_gbs = std::max(g_stream_gbs, gbs);
}

// ---- layer-norm and softmax -------------------------------------------------------------------
//
// Byte model: the least traffic a fused kernel needs, 4-byte floats, R rows of N.
//   forward:  read x, write y                                  8 R N
//   backward: read y (softmax) or x (layer-norm), dy; write dx  12 R N
// plus the mask once (softmax) and nothing for gamma/beta and their gradients (O(N)). GB/s is
// this model over the measured time, so it reads as a fraction of the streaming figure.

template <class Op>
void bench_rowwise(benchmark::State& state, Op&& op, Variable x, double bytes_fwd, double bytes_bwd, bool backward) {
  set_num_threads(kThreads);
  const Tensor dy = random_tensor(x.shape(), 11);
  double total = 0.0;
  int64_t faults = 0;
  for (auto _ : state) {
    const int64_t faults_before = minor_faults();
    total += seconds_of([&] {
      x.zero_grad();
      Variable y = op(x);
      if (backward) y.backward(dy);
      benchmark::DoNotOptimize(y.value().data());
    });
    faults += minor_faults() - faults_before;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["op_faults"] = static_cast<double>(faults) / n;
  const double gbs = (bytes_fwd + (backward ? bytes_bwd : 0.0)) / (total / n) * 1e-9;
  state.counters["GB/s"] = gbs;
  if (g_stream_gbs > 0.0) state.counters["of_stream"] = gbs / g_stream_gbs;
}

void bench_layer_norm(benchmark::State& state, int64_t rows, int64_t d, bool backward) {
  Variable gamma(random_tensor({d}, 12), true), beta(random_tensor({d}, 13), true);
  const double rn = static_cast<double>(rows * d) * sizeof(float);
  bench_rowwise(
      state, [&](const Variable& x) { return layer_norm(x, gamma, beta, 1e-3f); },
      Variable(random_tensor({rows, d}, 14), true), 2 * rn, 3 * rn, backward);
}

void bench_softmax(benchmark::State& state, Shape shape, Tensor mask, bool backward) {
  const double rn = static_cast<double>(shape_numel(shape)) * sizeof(float);
  const double mask_bytes = static_cast<double>(mask.numel()) * sizeof(float);
  bench_rowwise(
      state, [&](const Variable& x) { return softmax(x, mask); }, Variable(random_tensor(shape, 15), true),
      2 * rn + mask_bytes, 3 * rn, backward);
}

// A [1, N] mask (broadcast over rows) that drops the last eighth of the columns.
Tensor column_mask(int64_t n) {
  Tensor m = Tensor::zeros({1, n});
  for (int64_t j = n - n / 8; j < n; ++j) m.data()[j] = -1e9f;
  return m;
}

AttentionMask padding_mask(int64_t batch, int64_t t) {
  AttentionMask mask;
  for (int64_t b = 0; b < batch; ++b) mask.key_lengths.push_back(static_cast<int32_t>(t - b % (t / 3 + 1)));
  return mask;
}

// ---- attention ---------------------------------------------------------------------------------

// Fused attention at B, T (= Tq = Tk), H, K against per-(batch, head) cblas_sgemm calls on the
// same layout (q, k, v [B, T, H*K], strided rows, no copies), run over the TBB workers with
// single-threaded OpenBLAS: S = Q K^T and O = P V forward; dP = dO V^T, dV = P^T dO,
// dQ = dS K, dK = dS^T Q backward. The baseline has no softmax and no mask: it is the GEMM
// work alone. Keys are all visible, so the fused op does the same multiply-adds.
void bench_attention(benchmark::State& state, int64_t batch, int64_t t, int64_t heads, int64_t key_dim,
                     bool backward) {
  set_num_threads(kThreads);
  const int64_t row = heads * key_dim;
  const Tensor q = random_tensor({batch, t, row}, 21), k = random_tensor({batch, t, row}, 22),
               v = random_tensor({batch, t, row}, 23), d_o = random_tensor({batch, t, row}, 24);
  Tensor p({batch, heads, t, t}), dp({batch, heads, t, t}), o({batch, t, row}), dq({batch, t, row}),
      dk({batch, t, row}), dv({batch, t, row});
  const float scale = 1.0f / std::sqrt(static_cast<float>(key_dim));
  auto gemm_pass = [&] {
    parallel_for(batch * heads, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t task = lo; task < hi; ++task) {
        const int64_t off = (task / heads) * t * row + (task % heads) * key_dim;
        float* pt = p.data() + task * t * t;
        float* dpt = dp.data() + task * t * t;
        raw_sgemm(false, true, t, t, key_dim, scale, q.data() + off, row, k.data() + off, row, 0.0f, pt, t);
        raw_sgemm(false, false, t, key_dim, t, 1.0f, pt, t, v.data() + off, row, 0.0f, o.data() + off, row);
        if (!backward) continue;
        raw_sgemm(false, true, t, t, key_dim, 1.0f, d_o.data() + off, row, v.data() + off, row, 0.0f, dpt, t);
        raw_sgemm(true, false, t, key_dim, t, 1.0f, pt, t, d_o.data() + off, row, 0.0f, dv.data() + off, row);
        raw_sgemm(false, false, t, key_dim, t, scale, dpt, t, k.data() + off, row, 0.0f, dq.data() + off, row);
        raw_sgemm(true, false, t, key_dim, t, scale, dpt, t, q.data() + off, row, 0.0f, dk.data() + off, row);
      }
    });
  };
  Variable qv(q, true), kv(k, true), vv(v, true);
  const AttentionMask mask{std::vector<int32_t>(static_cast<size_t>(batch), static_cast<int32_t>(t)), false};
  Rng rng(25);
  double baseline = 0.0, own = 0.0;
  for (auto _ : state) {
    baseline += seconds_of(gemm_pass);
    const double s = seconds_of([&] {
      qv.zero_grad();
      kv.zero_grad();
      vv.zero_grad();
      Variable out = attention(qv, kv, vv, mask, static_cast<int>(heads), 0.0f, rng, true);  // [B, T, H*K]
      if (backward) out.backward(d_o);
      benchmark::DoNotOptimize(out.value().data());
    });
    state.SetIterationTime(s);
    own += s;
  }
  const double n = static_cast<double>(state.iterations());
  const double flops = (backward ? 6.0 : 2.0) * 2.0 * static_cast<double>(batch * heads * t * t * key_dim);
  state.counters["GFLOP/s"] = flops / (own / n) * 1e-9;
  state.counters["gemm_GFLOP/s"] = flops / (baseline / n) * 1e-9;
  state.counters["op/gemm"] = own / baseline;
}

// ---- registration, in run order ------------------------------------------------------------------

int register_all() {
  auto mode = [](bool backward) { return std::string(backward ? "fwd_bwd" : "fwd"); };
  for (bool backward : {false, true})
    for (const DenseShape& s : kDenseShapes)
      benchmark::RegisterBenchmark(("sgemm_openblas2/" + s.name() + "/" + mode(backward)).c_str(),
                                   bench_sgemm_openblas2, s, backward)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  for (bool backward : {false, true})
    for (const DenseShape& s : kDenseShapes)
      for (DenseOp op : {DenseOp::matmul, DenseOp::linear})
        benchmark::RegisterBenchmark(
            ((op == DenseOp::matmul ? "matmul_op/" : "linear_op/") + s.name() + "/" + mode(backward)).c_str(),
            bench_dense_op, op, s, backward)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);

  for (int threads : {1, kThreads})
    for (bool triad : {false, true})
      benchmark::RegisterBenchmark(
          ((triad ? "stream_triad/threads:" : "stream_copy/threads:") + std::to_string(threads)).c_str(),
          bench_stream, triad, threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  for (bool backward : {false, true}) {
    benchmark::RegisterBenchmark(("layer_norm/2560x128/" + mode(backward)).c_str(), bench_layer_norm, 2560, 128,
                                 backward)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("softmax/2560x128/mask:1x128/" + mode(backward)).c_str(), bench_softmax,
                                 Shape{2560, 128}, column_mask(128), backward)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("softmax/64x8x27x27/mask:64x1x27x27/" + mode(backward)).c_str(), bench_softmax,
                                 Shape{64, 8, 27, 27}, padding_mask(64, 27).additive(27, 27), backward)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("softmax/2560x7010/mask:1x7010/" + mode(backward)).c_str(), bench_softmax,
                                 Shape{2560, 7010}, column_mask(7010), backward)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (bool backward : {false, true})
    for (int64_t t : {27, 100})
      benchmark::RegisterBenchmark(("attention_op/B64_T" + std::to_string(t) + "_H8_K128/" + mode(backward)).c_str(),
                                   bench_attention, 64, t, 8, 128, backward)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();

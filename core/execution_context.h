#pragma once
// How ops run on this thread, beyond their arguments: which kernels (the optimised ones or
// their plain reference paths), at which GEMM precision, and who watches the GEMMs. Like
// grad mode (NoGradGuard, core/variable.h) it is thread_local and changed only by the RAII
// scopes below, so an op never changes how a later op runs, a scope ends however its block
// ends, and two threads can run differently.
//
// Other threads do not inherit a thread_local: parallel_for (core/parallel.h) captures the
// caller's context when it dispatches and installs it on whichever thread runs each block,
// so a kernel sees the same context on every thread of its loop.
#include <cstdint>

namespace bcqnmt {

// The fast kernels (default), or the plain reference paths they are tested against:
// attention composed of primitive ops, linear as matmul + add, each GEMM as one BLAS call,
// BCQ products as loops over bits, rows and columns. The convention is in core/README.md
// ("Fast and reference paths"); training both ways shows that speed changed nothing but
// speed (tests/test_nn_fast_path.cpp).
enum class KernelPath { fast, reference };

// fp32 GEMMs, or bf16 operands with fp32 accumulation (core/gemm_bf16.h).
enum class GemmPrecision { fp32, bf16 };

// One gemm() call as reported to an observer: its shape and wall time (seconds).
struct GemmShape {
  bool trans_a, trans_b;
  int64_t m, n, k;
  double seconds = 0.0;
};
using GemmObserver = void (*)(const GemmShape&);

struct ExecutionContext {
  KernelPath kernel_path = KernelPath::fast;
  GemmPrecision gemm_precision = GemmPrecision::fp32;
  // Profiling: every gemm() reports to it (bench/bench_train_step.cpp replays the shapes
  // on raw sgemm and sums the times); nullptr: none.
  GemmObserver gemm_observer = nullptr;
  // Every parallel_for of this thread runs on it alone, not on the thread team
  // (core/thread_choice.h turns it on for steps that are faster that way).
  bool single_thread = false;
};

// This thread's context.
const ExecutionContext& execution_context();
inline KernelPath kernel_path() { return execution_context().kernel_path; }
inline GemmPrecision gemm_precision() { return execution_context().gemm_precision; }

// Installs a whole context for a scope and restores the previous one when it ends.
class ExecutionScope {
 public:
  explicit ExecutionScope(const ExecutionContext& context);
  ~ExecutionScope();
  ExecutionScope(const ExecutionScope&) = delete;
  ExecutionScope& operator=(const ExecutionScope&) = delete;

 private:
  ExecutionContext previous_;
};

// The same for one field of the context, the others kept.
class KernelPathScope {
 public:
  explicit KernelPathScope(KernelPath path);

 private:
  ExecutionScope scope_;
};

// Switching to bf16 throws std::runtime_error, naming the reason, when this CPU or this
// oneDNN cannot run bf16 matmuls natively (no AVX512-BF16 or AMX).
class GemmPrecisionScope {
 public:
  explicit GemmPrecisionScope(GemmPrecision precision);

 private:
  ExecutionScope scope_;
};

class GemmObserverScope {
 public:
  explicit GemmObserverScope(GemmObserver observer);

 private:
  ExecutionScope scope_;
};

class SingleThreadScope {
 public:
  SingleThreadScope();

 private:
  ExecutionScope scope_;
};

}  // namespace bcqnmt

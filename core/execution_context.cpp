#include "core/execution_context.h"

#include <stdexcept>
#include <string>

#include "core/gemm_bf16.h"

namespace bcqnmt {

namespace {

thread_local ExecutionContext t_context;

template <class Field, class Value>
ExecutionContext with(Field ExecutionContext::*field, Value value) {
  ExecutionContext context = t_context;
  context.*field = value;
  return context;
}

GemmPrecision available(GemmPrecision precision) {
  if (precision == GemmPrecision::bf16) {
    const std::string reason = bf16_gemm_unavailable_reason();
    if (!reason.empty()) throw std::runtime_error(reason + "; use \"matmul_precision\": \"fp32\"");
  }
  return precision;
}

}  // namespace

const ExecutionContext& execution_context() { return t_context; }

ExecutionScope::ExecutionScope(const ExecutionContext& context) : previous_(t_context) { t_context = context; }
ExecutionScope::~ExecutionScope() { t_context = previous_; }

KernelPathScope::KernelPathScope(KernelPath path) : scope_(with(&ExecutionContext::kernel_path, path)) {}

GemmPrecisionScope::GemmPrecisionScope(GemmPrecision precision)
    : scope_(with(&ExecutionContext::gemm_precision, available(precision))) {}

GemmObserverScope::GemmObserverScope(GemmObserver observer)
    : scope_(with(&ExecutionContext::gemm_observer, observer)) {}

SingleThreadScope::SingleThreadScope() : scope_(with(&ExecutionContext::single_thread, true)) {}

}  // namespace bcqnmt

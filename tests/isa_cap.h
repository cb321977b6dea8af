#pragma once
// Which oneDNN ISA a test run covers. ctest runs the bf16 tests once per level
// (tests/CMakeLists.txt) with oneDNN's own cap, ONEDNN_MAX_CPU_ISA, set: AVX512_CORE_AMX,
// AVX512_CORE_BF16 and AVX2. oneDNN then runs the best ISA at or below the cap, so on a CPU
// without the capped level the run would silently repeat a lower one; such a run says
// SKIPPED and why instead.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include <dnnl.hpp>

#include "core/gemm_bf16.h"

namespace bcqnmt::test {

inline std::string onednn_isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx512_core_amx: return "AVX512_CORE_AMX";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX512_CORE_BF16";
    case dnnl::cpu_isa::avx512_core: return "AVX512_CORE";
    case dnnl::cpu_isa::avx2: return "AVX2";
    default: return "another ISA";
  }
}

// True when bf16 GEMMs run here at the ISA level this test run is meant to cover; otherwise
// prints "SKIPPED: <why>" and returns false.
inline bool bf16_runs_at_capped_isa() {
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string effective = onednn_isa_name(dnnl::get_effective_cpu_isa());
  if (const std::string reason = bf16_gemm_unavailable_reason(); !reason.empty()) {
    MESSAGE("SKIPPED: " << reason << (cap ? " (ONEDNN_MAX_CPU_ISA=" + std::string(cap) + ")" : std::string()));
    return false;
  }
  if (cap != nullptr && *cap != '\0' && effective != cap) {
    MESSAGE("SKIPPED: this CPU lacks " << std::string(cap) << "; under that cap oneDNN runs " << effective
                                       << ", which the run capped at " << effective << " covers");
    return false;
  }
  MESSAGE("oneDNN ISA: " << effective);
  return true;
}

}  // namespace bcqnmt::test

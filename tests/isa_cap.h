#pragma once
// Which oneDNN ISA a test run covers. ctest runs the bf16 tests once per level
// (tests/CMakeLists.txt), naming it in BCQNMT_TEST_ONEDNN_ISA: AVX512_CORE_AMX,
// AVX512_CORE_BF16 or AVX2. Before main, that level becomes oneDNN's own cap,
// ONEDNN_MAX_CPU_ISA (oneDNN reads it at its first use), unless a lower cap was exported for
// the whole run (`ONEDNN_MAX_CPU_ISA=AVX2 ctest` stands for a CPU without bf16 and must
// win). oneDNN then runs the best ISA at or below the cap, so on a CPU without the level the
// run would silently repeat a lower one; such a run says SKIPPED and why instead.
#include <doctest/doctest.h>

#include <cstdlib>
#include <stdlib.h>
#include <string>

#include <dnnl.hpp>

#include "core/gemm_bf16.h"

namespace bcqnmt::test {

// Order of the levels a cap may name; unknown names rank above all (never overridden).
inline int isa_rank(const std::string& name) {
  for (int i = 0; const char* level : {"AVX2", "AVX512_CORE", "AVX512_CORE_BF16", "AVX512_CORE_AMX"}) {
    if (name == level) return i;
    ++i;
  }
  return 100;
}

inline const char* covered_isa_level() { return std::getenv("BCQNMT_TEST_ONEDNN_ISA"); }

inline const bool kIsaLevelApplied = [] {
  const char* level = covered_isa_level();
  if (level == nullptr) return false;
  const char* exported = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (exported != nullptr && isa_rank(exported) < isa_rank(level)) return false;
  return ::setenv("ONEDNN_MAX_CPU_ISA", level, 1) == 0;
}();

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
  const char* level = covered_isa_level();
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string effective = onednn_isa_name(dnnl::get_effective_cpu_isa());
  if (level != nullptr && !kIsaLevelApplied) {
    MESSAGE("SKIPPED: ONEDNN_MAX_CPU_ISA=" << std::string(cap) << " exported for the run is below " << std::string(level));
    return false;
  }
  if (const std::string reason = bf16_gemm_unavailable_reason(); !reason.empty()) {
    MESSAGE("SKIPPED: " << reason);
    return false;
  }
  if (level != nullptr && effective != level) {
    MESSAGE("SKIPPED: this CPU lacks " << std::string(level) << "; under that cap oneDNN runs " << effective
                                       << ", which the run at " << effective << " covers");
    return false;
  }
  MESSAGE("oneDNN ISA: " << effective);
  return true;
}

}  // namespace bcqnmt::test

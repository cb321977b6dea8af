#include "apps/version.h"

#include "bcqnmt_revision.h"  // generated at build time (cmake/revision.cmake)
#include "core/gemm_bf16.h"
#include "quant/bcq_gemm.h"

namespace bcqnmt {

std::string version_line() {
  return std::string("bcqnmt ") + BCQNMT_VERSION + " (revision " + BCQNMT_REVISION + ", " + BCQNMT_BUILD_TYPE +
         " build)";
}

std::string version_text() {
  std::string bf16 = bf16_gemm_unavailable_reason();
  if (bf16.empty()) bf16 = "available";
  std::string bcq;
  for (BcqIsa isa : {BcqIsa::avx512, BcqIsa::avx2, BcqIsa::portable})
    if (bcq_isa_supported(isa)) bcq += (bcq.empty() ? "" : ", ") + bcq_isa_name(isa);
  return version_line() + "\nbf16 matmuls: " + bf16 + "\nBCQ kernel paths on this CPU: " + bcq + " (using " +
         bcq_isa_name(bcq_best_isa()) + ")";
}

}  // namespace bcqnmt

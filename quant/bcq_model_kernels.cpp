#include "quant/bcq_model_kernels.h"

namespace bcqnmt {

BcqLinearKernel::BcqLinearKernel(const BcqMixedMatrix& w, Variable bias) : w_(w), bias_(std::move(bias)) {}

void BcqLinearKernel::apply(const float* x, int64_t n, float* y) const {
  // Y [N, out] = X [N, in] (W^T)^T: the kernel API's X W^T with our rows = output rows.
  bcq_gemm(w_, n, x, y, bias_.defined() ? bias_.value().data() : nullptr);
}

int64_t BcqLinearKernel::storage_bytes() const {
  int64_t bytes = 0;
  for (const BcqKernelMatrix& p : w_.pieces) bytes += p.storage_bytes();
  return bytes;
}

void BcqEmbeddingLookup::gather(const int32_t* ids, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i) table_.dequantize_row(ids[i], out + i * table_.cols);
}

}  // namespace bcqnmt

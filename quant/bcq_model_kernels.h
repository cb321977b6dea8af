#pragma once
// The quantized inference hooks nn/ calls when gradients are off: a Linear whose product
// runs on the lookup-table kernels (quant/bcq_gemm.h) without ever forming W, and an
// Embedding that dequantizes only the rows it is asked for.
#include "core/variable.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "quant/bcq_mixed_kernel.h"
#include "quant/bcq_mixed_matrix.h"

namespace bcqnmt {

class BcqLinearKernel : public LinearKernel {
 public:
  // w: the kernel's transpose [out, in] in BCQ form; bias [out] (may be undefined) is read
  // at every call, so it follows the module's parameter.
  BcqLinearKernel(const BcqMixedMatrix& w, Variable bias);
  void apply(const float* x, int64_t n, float* y) const override;  // y [N, out] = x [N, in] W + b
  // Slices (bcq_gemm_slice) when the rows are in one piece in order (one bit width), the
  // batch takes the lookup-table kernels, bcq_slice_supported accepts the features and the
  // outputs are whole 16-row tiles (a head of 128 outputs is 8).
  bool has_slice(int64_t n, int64_t c0, int64_t c1, int64_t o0, int64_t o1) const override;
  std::unique_ptr<SliceInput> prepare_slice(const float* x, int64_t n, int64_t ldx, int64_t c0,
                                            int64_t c1) const override;
  void apply_slice(const SliceInput& x, int64_t o0, int64_t o1, float* y, int64_t ldy, bool with_bias) const override;
  int64_t storage_bytes() const;

 private:
  BcqMixedKernelMatrix w_;
  Variable bias_;
};

class BcqEmbeddingLookup : public EmbeddingLookup {
 public:
  explicit BcqEmbeddingLookup(BcqMixedMatrix table) : table_(std::move(table)) {}  // [V, D]
  void gather(const int32_t* ids, int64_t n, float* out) const override;          // out [n, D]
  int64_t storage_bytes() const { return table_.storage_bytes(); }

 private:
  BcqMixedMatrix table_;
};

}  // namespace bcqnmt

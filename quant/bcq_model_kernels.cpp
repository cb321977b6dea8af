#include "quant/bcq_model_kernels.h"

#include "quant/bcq_gemm.h"
#include "quant/quant_error.h"

namespace bcqnmt {

BcqLinearKernel::BcqLinearKernel(const BcqMixedMatrix& w, Variable bias) : w_(w), bias_(std::move(bias)) {}

void BcqLinearKernel::apply(const float* x, int64_t n, float* y) const {
  // Y [N, out] = X [N, in] (W^T)^T: the kernel API's X W^T with our rows = output rows.
  bcq_gemm(w_, n, x, y, bias_.defined() ? bias_.value().data() : nullptr);
}

namespace {
// The tables of a slice, and what made them, to tabulate again for a matrix of another
// column layout.
struct BcqSlice : LinearKernel::SliceInput {
  BcqSlice(const BcqKernelMatrix& w, int64_t n, const float* x, int64_t ldx, int64_t c0, int64_t c1)
      : x(x), n(n), ldx(ldx), c0(c0), c1(c1), tables(w, n, x, ldx, c0, c1) {}
  const float* x;
  int64_t n, ldx, c0, c1;
  BcqSliceInput tables;
};
}  // namespace

bool BcqLinearKernel::has_slice(int64_t n, int64_t c0, int64_t c1, int64_t o0, int64_t o1) const {
  return w_.identity && bcq_lookup_batch(n) && bcq_slice_supported(w_.pieces[0], c0, c1) &&
         bcq_slice_rows_supported(w_.pieces[0], o0, o1);
}

std::unique_ptr<LinearKernel::SliceInput> BcqLinearKernel::prepare_slice(const float* x, int64_t n, int64_t ldx,
                                                                         int64_t c0, int64_t c1) const {
  if (!w_.identity) throw QuantError("BcqLinearKernel: rows of several bit widths have no sliced products");
  return std::make_unique<BcqSlice>(w_.pieces[0], n, x, ldx, c0, c1);
}

void BcqLinearKernel::apply_slice(const SliceInput& x, int64_t o0, int64_t o1, float* y, int64_t ldy,
                                  bool with_bias) const {
  const auto* slice = dynamic_cast<const BcqSlice*>(&x);
  if (!w_.identity || slice == nullptr) throw QuantError("BcqLinearKernel::apply_slice: not a BCQ kernel's input");
  const BcqKernelMatrix& w = w_.pieces[0];
  const float* bias = with_bias && bias_.defined() ? bias_.value().data() : nullptr;
  if (slice->tables.fits(w)) return bcq_gemm_slice(w, slice->tables, o0, o1, y, ldy, bias);
  const BcqSliceInput own(w, slice->n, slice->x, slice->ldx, slice->c0, slice->c1);
  bcq_gemm_slice(w, own, o0, o1, y, ldy, bias);
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

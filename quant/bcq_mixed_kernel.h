#pragma once
// The LUT kernels over a BcqMixedMatrix (rows of different bit widths): each piece runs
// bcq_gemm on its own rows and the results are scattered to their original rows. A matrix
// whose rows all have one width is a single piece in original order and is written in place.
#include <cstdint>
#include <vector>

#include "quant/bcq_kernel_matrix.h"
#include "quant/bcq_mixed_matrix.h"

namespace bcqnmt {

struct BcqMixedKernelMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<BcqKernelMatrix> pieces;
  std::vector<std::vector<int32_t>> rows_of_piece;  // original row of each piece row
  bool identity = false;                            // one piece holding rows 0..rows-1 in order

  BcqMixedKernelMatrix() = default;
  explicit BcqMixedKernelMatrix(const BcqMixedMatrix& m);
};

// Y [n, rows] = X [n, cols] W^T (+ bias [rows]); same ISA dispatch and determinism as bcq_gemm.
void bcq_gemm(const BcqMixedKernelMatrix& w, int64_t n, const float* x, float* y, const float* bias = nullptr);

}  // namespace bcqnmt

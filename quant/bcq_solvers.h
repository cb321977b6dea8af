#pragma once
// BCQ solvers: approximate a segment w (one row, or one group of a row) of n weights by
//   w ~= sum_{q<Q} alphas[q] * b_q,  b_q in {-1, +1}^n.
// Codes are written as int8 +1/-1, [Q][n]. All three solvers are deterministic.
//
// bcq_greedy          the reference's method: r = w; per bit b = sign(r) (0 -> +1),
//                     alpha = mean|r|, r -= alpha * b.
// bcq_refined_greedy  greedy codes, then all alphas refit jointly by least squares,
//                     alpha = (B^T B)^-1 B^T w.
// bcq_alternating     Xu et al., "Alternating Multi-bit Quantization for Recurrent Neural
//                     Networks", ICLR 2018, Alg. 1: from greedy, repeat `cycles` times
//                     { least-squares alphas for fixed codes; nearest of the 2^Q levels for
//                     fixed alphas }, then a final least-squares refit (never increases error).
//                     Relative squared error on N(0,1) rows of 512 (tests/test_quant_solvers):
//                     3 bits 0.053 refined, 0.044 after 2 cycles, 0.037 after 10, 0.036 at 20+;
//                     4 bits 0.028 / 0.019 / 0.012 / 0.011. 10 cycles get most of the gain;
//                     the commands' default stays 2 (BcqOptions, below).
#include <cstdint>
#include <string>
#include <vector>

#include "core/name_table.h"
#include "core/tensor.h"
#include "quant/bcq_matrix.h"

namespace bcqnmt {

// `residual` (may be null) receives w - dequantized, the reference's integrity check.
void bcq_greedy(const float* w, int64_t n, int bits, float* alphas, int8_t* codes, float* residual = nullptr);
void bcq_refined_greedy(const float* w, int64_t n, int bits, float* alphas, int8_t* codes);
void bcq_alternating(const float* w, int64_t n, int bits, int cycles, float* alphas, int8_t* codes);

enum class BcqMethod { greedy, refined_greedy, alternating };
// The solvers' names ("greedy", "refined_greedy", "alternating"): the one table behind
// config files, the command line's choices and printing.
const NameTable<BcqMethod>& bcq_method_names();

// The one set of solver defaults: the reference's greedy method, 2 cycles should
// "alternating" be chosen. The "quantization" config section (apps/quantization_config.h)
// starts from these.
struct BcqOptions {
  int bits = 3;
  int64_t group_size = 0;  // 0 = one alpha set per row
  BcqMethod method = BcqMethod::greedy;
  int cycles = 2;          // alternating only
};

// Quantizes every row (and group) of W [rows, cols]; rows in parallel, same result for any
// thread count.
BcqMatrix bcq_quantize(const float* w, int64_t rows, int64_t cols, const BcqOptions& options);
BcqMatrix bcq_quantize(const Tensor& w, const BcqOptions& options);  // w [rows, cols]

}  // namespace bcqnmt

#include "quant/bcq_solvers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "quant/quant_error.h"

namespace bcqnmt {

namespace {

constexpr int kMaxBits = 8;

void check_bits(int bits) {
  if (bits < 1 || bits > kMaxBits) throw QuantError("BCQ: bits must be 1..8, got " + std::to_string(bits));
}

// alpha = (B^T B)^-1 B^T w, in double. B^T B is Q x Q with n on the diagonal. When codes are
// linearly dependent (e.g. two planes equal, or n < Q) the system is singular; then the
// current alphas are kept, which is still a valid (if not optimal) fit.
void least_squares_alphas(const float* w, int64_t n, int bits, const int8_t* codes, float* alphas) {
  std::array<std::array<double, kMaxBits + 1>, kMaxBits> a{};  // augmented [B^T B | B^T w]
  for (int i = 0; i < bits; ++i) {
    const int8_t* bi = codes + i * n;
    double btw = 0.0;
    for (int64_t j = 0; j < n; ++j) btw += bi[j] * static_cast<double>(w[j]);
    a[i][bits] = btw;
    a[i][i] = static_cast<double>(n);
    for (int k = 0; k < i; ++k) {
      const int8_t* bk = codes + k * n;
      int64_t dot = 0;
      for (int64_t j = 0; j < n; ++j) dot += bi[j] * bk[j];
      a[i][k] = a[k][i] = static_cast<double>(dot);
    }
  }
  // Gaussian elimination with partial pivoting.
  for (int col = 0; col < bits; ++col) {
    int pivot = col;
    for (int r = col + 1; r < bits; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    if (std::abs(a[pivot][col]) < 1e-9 * static_cast<double>(n)) return;  // singular: keep alphas
    std::swap(a[col], a[pivot]);
    for (int r = col + 1; r < bits; ++r) {
      const double f = a[r][col] / a[col][col];
      for (int k = col; k <= bits; ++k) a[r][k] -= f * a[col][k];
    }
  }
  std::array<double, kMaxBits> x{};
  for (int r = bits - 1; r >= 0; --r) {
    double s = a[r][bits];
    for (int k = r + 1; k < bits; ++k) s -= a[r][k] * x[k];
    x[r] = s / a[r][r];
  }
  for (int i = 0; i < bits; ++i) alphas[i] = static_cast<float>(x[i]);
}

// For fixed alphas, each weight takes the code of the nearest of the 2^Q levels
// sum_i alphas[i] * c_i (Xu et al. 2018, binary search tree over the sorted levels).
void nearest_level_codes(const float* w, int64_t n, int bits, const float* alphas, int8_t* codes) {
  const int levels = 1 << bits;
  std::array<std::pair<float, int>, 1 << kMaxBits> sorted{};  // (level value, code bits)
  for (int c = 0; c < levels; ++c) {
    float v = 0.0f;
    for (int i = 0; i < bits; ++i) v += ((c >> i) & 1) ? alphas[i] : -alphas[i];
    sorted[c] = {v, c};
  }
  std::sort(sorted.begin(), sorted.begin() + levels);
  std::array<float, 1 << kMaxBits> midpoints{};  // decision thresholds between neighbours
  for (int k = 0; k + 1 < levels; ++k) midpoints[k] = 0.5f * (sorted[k].first + sorted[k + 1].first);
  for (int64_t j = 0; j < n; ++j) {
    const auto k = std::upper_bound(midpoints.begin(), midpoints.begin() + levels - 1, w[j]) - midpoints.begin();
    const int c = sorted[k].second;
    for (int i = 0; i < bits; ++i) codes[i * n + j] = ((c >> i) & 1) ? 1 : -1;
  }
}

}  // namespace

void bcq_greedy(const float* w, int64_t n, int bits, float* alphas, int8_t* codes, float* residual) {
  check_bits(bits);
  std::vector<float> own;
  float* r = residual;
  if (r == nullptr) {
    own.resize(static_cast<size_t>(n));
    r = own.data();
  }
  std::copy(w, w + n, r);
  for (int i = 0; i < bits; ++i) {
    double sum_abs = 0.0;
    for (int64_t j = 0; j < n; ++j) sum_abs += std::abs(r[j]);
    const float alpha = n > 0 ? static_cast<float>(sum_abs / static_cast<double>(n)) : 0.0f;
    alphas[i] = alpha;
    int8_t* b = codes + i * n;
    for (int64_t j = 0; j < n; ++j) {
      b[j] = r[j] >= 0.0f ? 1 : -1;
      r[j] -= alpha * b[j];
    }
  }
}

void bcq_refined_greedy(const float* w, int64_t n, int bits, float* alphas, int8_t* codes) {
  bcq_greedy(w, n, bits, alphas, codes);
  least_squares_alphas(w, n, bits, codes, alphas);
}

void bcq_alternating(const float* w, int64_t n, int bits, int cycles, float* alphas, int8_t* codes) {
  if (cycles < 0) throw QuantError("bcq_alternating: cycles must be >= 0, got " + std::to_string(cycles));
  bcq_greedy(w, n, bits, alphas, codes);
  for (int t = 0; t < cycles; ++t) {
    least_squares_alphas(w, n, bits, codes, alphas);
    nearest_level_codes(w, n, bits, alphas, codes);
  }
  least_squares_alphas(w, n, bits, codes, alphas);
}

BcqMatrix bcq_quantize(const float* w, int64_t rows, int64_t cols, const BcqOptions& options) {
  check_bits(options.bits);
  BcqMatrix m(rows, cols, options.bits, options.group_size);
  const int q_bits = options.bits;
  const int64_t gw = m.group_width();
  const int64_t groups = m.groups();
  // ~cols * Q * (cycles + 2) flops a row: a block of 16 rows of 512 is already tens of us.
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> seg_alphas(static_cast<size_t>(q_bits));
    std::vector<int8_t> codes(static_cast<size_t>(q_bits * gw));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t c0 = g * gw;
        const int64_t n = std::min(gw, cols - c0);
        const float* seg = w + r * cols + c0;
        switch (options.method) {
          case BcqMethod::greedy: bcq_greedy(seg, n, q_bits, seg_alphas.data(), codes.data()); break;
          case BcqMethod::refined_greedy: bcq_refined_greedy(seg, n, q_bits, seg_alphas.data(), codes.data()); break;
          case BcqMethod::alternating:
            bcq_alternating(seg, n, q_bits, options.cycles, seg_alphas.data(), codes.data());
            break;
        }
        for (int q = 0; q < q_bits; ++q) {
          m.alpha(q, r, g) = seg_alphas[q];
          uint64_t* plane = m.sign_row(q, r);
          const int8_t* b = codes.data() + q * n;
          for (int64_t j = 0; j < n; ++j)
            if (b[j] > 0) plane[(c0 + j) / 64] |= uint64_t{1} << ((c0 + j) % 64);
        }
      }
    }
  });
  return m;
}

BcqMatrix bcq_quantize(const Tensor& w, const BcqOptions& options) {
  if (w.dim() != 2) throw QuantError("bcq_quantize: expected a matrix [rows, cols], got " + shape_str(w.shape()));
  return bcq_quantize(w.data(), w.size(0), w.size(1), options);
}

const NameTable<BcqMethod>& bcq_method_names() {
  static const NameTable<BcqMethod> names("\"solver\"", {{BcqMethod::greedy, "greedy"},
                                                             {BcqMethod::refined_greedy, "refined_greedy"},
                                                             {BcqMethod::alternating, "alternating"}});
  return names;
}

}  // namespace bcqnmt

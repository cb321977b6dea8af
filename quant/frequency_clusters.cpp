#include "quant/frequency_clusters.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "quant/quant_error.h"

namespace bcqnmt {

std::array<int64_t, 4> frequency_cluster_sizes(int64_t rows, double ratio) {
  if (!(ratio > 0.0) || !std::isfinite(ratio))
    throw QuantError("frequency clusters: size ratio must be a positive number, got " + std::to_string(ratio));
  std::array<double, 4> cumulative{};
  double power = 1.0, sum = 0.0;
  for (int k = 0; k < 4; ++k) {
    sum += power;
    cumulative[k] = sum;
    power *= ratio;
  }
  std::array<int64_t, 4> sizes{};
  int64_t previous_end = 0;
  for (int k = 0; k < 4; ++k) {
    const int64_t end = k == 3 ? rows : std::llround(static_cast<double>(rows) * cumulative[k] / sum);
    sizes[k] = end - previous_end;
    previous_end = end;
  }
  return sizes;
}

std::vector<int> frequency_cluster_bits(const std::vector<int64_t>& counts, double ratio) {
  const auto rows = static_cast<int64_t>(counts.size());
  const auto sizes = frequency_cluster_sizes(rows, ratio);
  std::vector<int64_t> order(counts.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts[a] > counts[b]; });
  std::vector<int> bits(counts.size());
  int64_t rank = 0;
  for (int k = 0; k < 4; ++k)
    for (int64_t i = 0; i < sizes[k]; ++i) bits[order[rank++]] = kFrequencyClusterBits[k];
  return bits;
}

}  // namespace bcqnmt

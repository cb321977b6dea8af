#pragma once
// Frequency-based bit widths for embedding rows (Chung et al., Findings of EMNLP 2020):
// frequent words matter more, so rows are ranked by word count and cut into 4 clusters that
// get 4, 3, 2 and 1 bits; the rarer the cluster, the larger it is.
//
// Exact rule used here:
//   rank rows by count, descending; ties by ascending row index (deterministic);
//   cluster k (k = 0..3, bits 4 - k) takes ranks [end_{k-1}, end_k) with
//     end_k = round(rows * (r^0 + ... + r^k) / (r^0 + r^1 + r^2 + r^3)),  end_{-1} = 0,
//   i.e. sizes proportional to 1 : r : r^2 : r^3, rounded through the cumulative sums so they
//   always add up to `rows`. r = 1 gives four equal clusters (average 2.5 bits); the
//   paper's "1% of words cover ~95% of occurrences" corresponds to a first cluster of ~1%,
//   r ~= 4.3 (1 / (1 + r + r^2 + r^3) = 0.01).
#include <array>
#include <cstdint>
#include <vector>

namespace bcqnmt {

inline constexpr std::array<int, 4> kFrequencyClusterBits{4, 3, 2, 1};

std::array<int64_t, 4> frequency_cluster_sizes(int64_t rows, double ratio);  // ratio > 0
// counts [rows] (occurrences of each row's word) -> bits [rows].
std::vector<int> frequency_cluster_bits(const std::vector<int64_t>& counts, double ratio);

}  // namespace bcqnmt

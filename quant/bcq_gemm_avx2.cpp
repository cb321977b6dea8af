// AVX2 tile kernel: the 16-row tile is two 8-lane halves, each one aligned load of 8 sign
// words, with integer tables (quant/bcq_gemm.h, "Table rounding") widened to int32. A
// 16-entry nibble table does not fit one ymm permute (8 entries), so each lookup is two
// _mm256_permutevar8x32_epi32 (entries 0-7 and 8-15, indexed by the low 3 bits) and a blend
// on bit 3 of the nibble; nibble k of a word is a shift by 4k away. The sums are exact int32,
// so every row gets the AVX-512 and portable paths' bits.
#include <immintrin.h>

#include <cstdint>

#include "quant/bcq_gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace bcqnmt {

namespace {

// Looks up, in each lane, the nibble at bits [4 * kNibble, 4 * kNibble + 4) of idx in the
// 16-entry table of that nibble.
template <int kNibble>
inline __m256i lookup16(__m256i idx, const int32_t* table) {
  const __m256i nib = _mm256_srli_epi32(idx, 4 * kNibble);
  const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(nib, 28));  // bit 3 -> sign bit
  const auto entries = [&](int first) {
    return _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 16 * kNibble + first)), nib));
  };
  return _mm256_castps_si256(_mm256_blendv_ps(entries(0), entries(8), bit3));
}

template <int Q>
inline void add_block(const uint32_t* s, const int32_t* table, __m256i* acc, const uint32_t* prefetch) {
  if (prefetch)  // one cache line per plane, into L2 (quant/bcq_gemm.cpp, kPrefetchBytes)
    for (int q = 0; q < Q; ++q) _mm_prefetch(reinterpret_cast<const char*>(prefetch + q * 16), _MM_HINT_T1);
  for (int q = 0; q < Q; ++q) {
    for (int h = 0; h < 2; ++h) {
      const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(s + q * 16 + h * 8));
      const __m256i s03 = _mm256_add_epi32(_mm256_add_epi32(lookup16<0>(b, table), lookup16<1>(b, table)),
                                           _mm256_add_epi32(lookup16<2>(b, table), lookup16<3>(b, table)));
      const __m256i s47 = _mm256_add_epi32(_mm256_add_epi32(lookup16<4>(b, table), lookup16<5>(b, table)),
                                           _mm256_add_epi32(lookup16<6>(b, table), lookup16<7>(b, table)));
      acc[2 * q + h] = _mm256_add_epi32(acc[2 * q + h], _mm256_add_epi32(s03, s47));
    }
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m256 y0 = _mm256_loadu_ps(a.out), y1 = _mm256_loadu_ps(a.out + 8);
  const int32_t* tables = static_cast<const int32_t*>(a.tables);
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t group_end = (g + 1) * a.blocks_per_group;
    const int64_t b1 = group_end < a.block_end ? group_end : a.block_end;
    __m256i acc[2 * Q];
    for (int i = 0; i < 2 * Q; ++i) acc[i] = _mm256_setzero_si256();
    for (int64_t b = b0; b < b1; ++b)
      add_block<Q>(a.signs + (b - a.block_begin) * Q * 16, tables + b * 128, acc,
                   a.prefetch ? a.prefetch + (b - a.block_begin) * Q * 16 : nullptr);
    const float* alpha = a.alphas + g * Q * 16;
    const __m256 step = _mm256_set1_ps(a.table_steps[g]);
    for (int q = 0; q < Q; ++q) {
      y0 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16), _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * q]), step), y0);
      y1 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16 + 8), _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * q + 1]), step),
                           y1);
    }
    b0 = b1;
  }
  _mm256_storeu_ps(a.out, y0);
  _mm256_storeu_ps(a.out + 8, y1);
}

}  // namespace

void bcq_dequantize_tile_avx2(const BcqDequantizeArgs& a) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  for (int64_t i = 0; i < 16; ++i) {
    float* row = a.w + i * a.ld;
    for (int64_t b = a.block_begin; b < a.block_end; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * 16 + i;
      __m256 acc[4] = {zero, zero, zero, zero};  // columns 8h .. 8h + 7 of the block
      for (int q = 0; q < a.bits; ++q) {
        const uint32_t word = a.signs[((b - a.block_begin) * a.bits + q) * 16 + i];
        const __m256 plus = _mm256_set1_ps(alpha[q * 16]), minus = _mm256_sub_ps(zero, plus);
        for (int h = 0; h < 4; ++h) {
          const __m256i byte = _mm256_set1_epi32(static_cast<int>((word >> (8 * h)) & 0xFFu));
          const __m256 set = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(byte, bit), bit));
          acc[h] = _mm256_add_ps(acc[h], _mm256_blendv_ps(minus, plus, set));
        }
      }
      for (int h = 0; h < 4; ++h) _mm256_storeu_ps(row + 32 * b + 8 * h, acc[h]);
    }
  }
}

void bcq_tile_avx2(const BcqTileArgs& a) {
  switch (a.bits) {
    case 1: tile<1>(a); break;
    case 2: tile<2>(a); break;
    case 3: tile<3>(a); break;
    case 4: tile<4>(a); break;
    case 5: tile<5>(a); break;
    case 6: tile<6>(a); break;
    case 7: tile<7>(a); break;
    default: tile<8>(a); break;
  }
}

}  // namespace bcqnmt

#pragma GCC pop_options

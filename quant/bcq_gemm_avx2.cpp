// AVX2 tile kernel: the 16-row tile is two 8-lane halves, each one aligned load of 8 sign
// words. A 16-entry nibble table does not fit one ymm permute (8 entries), so each lookup is
// two _mm256_permutevar8x32_ps (entries 0-7 and 8-15, indexed by the low 3 bits) and a blend
// on bit 3 of the nibble; nibble k of a word is a shift by 4k away.
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
inline __m256 lookup16(__m256i idx, const float* table) {
  const __m256i nib = _mm256_srli_epi32(idx, 4 * kNibble);
  const __m256 mask = _mm256_castsi256_ps(_mm256_slli_epi32(nib, 28));  // bit 3 -> sign bit
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 16 * kNibble), nib),
                          _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 16 * kNibble + 8), nib), mask);
}

template <int Q>
inline void add_block(const uint32_t* s, const float* table, __m256* acc, const uint32_t* prefetch) {
  if (prefetch)  // one cache line per plane, into L2 (quant/bcq_gemm.cpp, kPrefetchBytes)
    for (int q = 0; q < Q; ++q) _mm_prefetch(reinterpret_cast<const char*>(prefetch + q * 16), _MM_HINT_T1);
  for (int q = 0; q < Q; ++q) {
    for (int h = 0; h < 2; ++h) {
      const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(s + q * 16 + h * 8));
      const __m256 s03 = _mm256_add_ps(_mm256_add_ps(lookup16<0>(b, table), lookup16<1>(b, table)),
                                       _mm256_add_ps(lookup16<2>(b, table), lookup16<3>(b, table)));
      const __m256 s47 = _mm256_add_ps(_mm256_add_ps(lookup16<4>(b, table), lookup16<5>(b, table)),
                                       _mm256_add_ps(lookup16<6>(b, table), lookup16<7>(b, table)));
      acc[2 * q + h] = _mm256_add_ps(acc[2 * q + h], _mm256_add_ps(s03, s47));
    }
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m256 y0 = _mm256_loadu_ps(a.out), y1 = _mm256_loadu_ps(a.out + 8);
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t group_end = (g + 1) * a.blocks_per_group;
    const int64_t b1 = group_end < a.block_end ? group_end : a.block_end;
    __m256 acc[2 * Q];
    for (int i = 0; i < 2 * Q; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = b0; b < b1; ++b)
      add_block<Q>(a.signs + b * Q * 16, a.tables + b * 128, acc, a.prefetch ? a.prefetch + b * Q * 16 : nullptr);
    const float* alpha = a.alphas + g * Q * 16;
    for (int q = 0; q < Q; ++q) {
      y0 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16), acc[2 * q], y0);
      y1 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16 + 8), acc[2 * q + 1], y1);
    }
    b0 = b1;
  }
  _mm256_storeu_ps(a.out, y0);
  _mm256_storeu_ps(a.out + 8, y1);
}

}  // namespace

void bcq_nibble_tables_avx2(const float* x, int64_t nibbles, float* tables) {
  __m256 sign[4][2];  // [bit j][entries 0-7, 8-15]
  for (int j = 0; j < 4; ++j)
    for (int h = 0; h < 2; ++h) {
      alignas(32) float s[8];
      for (int i = 0; i < 8; ++i) s[i] = (((8 * h + i) >> j) & 1) ? 1.0f : -1.0f;
      sign[j][h] = _mm256_load_ps(s);
    }
  for (int64_t k = 0; k < nibbles; ++k) {
    const float* v = x + 4 * k;
    for (int h = 0; h < 2; ++h) {
      __m256 t = _mm256_mul_ps(_mm256_set1_ps(v[0]), sign[0][h]);
      for (int j = 1; j < 4; ++j) t = _mm256_fmadd_ps(_mm256_set1_ps(v[j]), sign[j][h], t);
      _mm256_storeu_ps(tables + 16 * k + 8 * h, t);
    }
  }
}

void bcq_dequantize_tile_avx2(const BcqDequantizeArgs& a) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  for (int64_t i = 0; i < 16; ++i) {
    float* row = a.w + i * a.ld;
    for (int64_t b = 0; b < a.blocks; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * 16 + i;
      __m256 acc[4] = {zero, zero, zero, zero};  // columns 8h .. 8h + 7 of the block
      for (int q = 0; q < a.bits; ++q) {
        const uint32_t word = a.signs[(b * a.bits + q) * 16 + i];
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

// AVX2 tile kernel: the 16-row tile is two 8-lane halves. A 16-entry nibble table does not fit
// one ymm permute (8 entries), so each lookup is two _mm256_permutevar8x32_ps (entries 0-7 and
// 8-15, indexed by the low 3 bits) and a blend on bit 3 of the nibble.
#include <immintrin.h>

#include <cstdint>

#include "quant/bcq_gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace bcqnmt {

namespace {

// Looks up, in each lane, the nibble at bits [kShift, kShift + 4) of idx in a 16-entry table.
template <int kShift>
inline __m256 lookup16(__m256i idx, __m256 lo8, __m256 hi8) {
  const __m256i nib = _mm256_srli_epi32(idx, kShift);
  const __m256 mask = _mm256_castsi256_ps(_mm256_slli_epi32(nib, 28));  // bit 3 -> sign bit
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo8, nib), _mm256_permutevar8x32_ps(hi8, nib), mask);
}

template <int Q>
inline void add_chunk(const uint8_t* s, const float* table, __m256* acc, const uint8_t* prefetch) {
  if (prefetch) {  // first and last byte of the chunk's Q * 16 bytes: every line it touches
    _mm_prefetch(reinterpret_cast<const char*>(prefetch), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(prefetch + Q * 16 - 1), _MM_HINT_T0);
  }
  const __m256 lo_a = _mm256_loadu_ps(table), lo_b = _mm256_loadu_ps(table + 8);
  const __m256 hi_a = _mm256_loadu_ps(table + 16), hi_b = _mm256_loadu_ps(table + 24);
  for (int q = 0; q < Q; ++q) {
    for (int h = 0; h < 2; ++h) {
      const __m256i b =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + q * 16 + h * 8)));
      const __m256 sum = _mm256_add_ps(lookup16<0>(b, lo_a, lo_b), lookup16<4>(b, hi_a, hi_b));
      acc[2 * q + h] = _mm256_add_ps(acc[2 * q + h], sum);
    }
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m256 y0 = _mm256_loadu_ps(a.out), y1 = _mm256_loadu_ps(a.out + 8);
  for (int64_t c0 = a.chunk_begin; c0 < a.chunk_end;) {
    const int64_t g = c0 / a.chunks_per_group;
    const int64_t group_end = (g + 1) * a.chunks_per_group;
    const int64_t c1 = group_end < a.chunk_end ? group_end : a.chunk_end;
    __m256 acc[2 * Q];
    for (int i = 0; i < 2 * Q; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t c = c0; c < c1; ++c)
      add_chunk<Q>(a.signs + c * Q * 16, a.tables + c * 32, acc, a.prefetch ? a.prefetch + c * Q * 16 : nullptr);
    const float* alpha = a.alphas + g * Q * 16;
    for (int q = 0; q < Q; ++q) {
      y0 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16), acc[2 * q], y0);
      y1 = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + q * 16 + 8), acc[2 * q + 1], y1);
    }
    c0 = c1;
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

// AVX-512 tile kernel: 16 rows per register. A nibble table (16 signed sums of 4 activations)
// fills one zmm, so _mm512_permutexvar_ps looks up 16 rows' nibbles in one instruction. The
// index vector is the 16 sign words of a (block, plane), one aligned load; vpermps reads only
// the low 4 bits of each lane, so nibble 0 needs nothing, nibble 4 one shift, and nibbles
// 1-3 and 5-7 a high multiply of each 16-bit half by 2^12, 2^8, 2^4 (vpmulhuw: x >> 4, 8, 12
// in the low half). The multiplies issue on other Zen 4 pipes than the shifts and permutes
// do, which is what bounds this loop: 1.10 vs 1.29 ns per 16 rows x 8 columns x 1 plane
// cache-resident with shifts alone (2.6 GHz Zen 4).
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_*; GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "quant/bcq_gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw")

namespace bcqnmt {

namespace {

// acc_lo [Q] += lookups of nibbles 0-3, acc_hi [Q] += nibbles 4-7 (two dependency chains).
template <int Q>
inline void add_block(const uint32_t* s, const float* table, __m512* acc_lo, __m512* acc_hi,
                      const uint32_t* prefetch) {
  if (prefetch)  // one cache line per plane, into L2 (quant/bcq_gemm.cpp, kPrefetchBytes)
    for (int q = 0; q < Q; ++q) _mm_prefetch(reinterpret_cast<const char*>(prefetch + q * 16), _MM_HINT_T1);
  const __m512i by12 = _mm512_set1_epi16(1 << 12), by8 = _mm512_set1_epi16(1 << 8), by4 = _mm512_set1_epi16(1 << 4);
  auto lookup = [table](__m512i index, int nibble) {
    return _mm512_permutexvar_ps(index, _mm512_loadu_ps(table + 16 * nibble));
  };
  for (int q = 0; q < Q; ++q) {
    const __m512i lo = _mm512_load_si512(s + q * 16);  // columns 0-15 in the low half
    const __m512i hi = _mm512_srli_epi32(lo, 16);      // columns 16-31
    const __m512 s03 = _mm512_add_ps(_mm512_add_ps(lookup(lo, 0), lookup(_mm512_mulhi_epu16(lo, by12), 1)),
                                     _mm512_add_ps(lookup(_mm512_mulhi_epu16(lo, by8), 2),
                                                   lookup(_mm512_mulhi_epu16(lo, by4), 3)));
    const __m512 s47 = _mm512_add_ps(_mm512_add_ps(lookup(hi, 4), lookup(_mm512_mulhi_epu16(hi, by12), 5)),
                                     _mm512_add_ps(lookup(_mm512_mulhi_epu16(hi, by8), 6),
                                                   lookup(_mm512_mulhi_epu16(hi, by4), 7)));
    acc_lo[q] = _mm512_add_ps(acc_lo[q], s03);
    acc_hi[q] = _mm512_add_ps(acc_hi[q], s47);
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m512 y = _mm512_loadu_ps(a.out);
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t group_end = (g + 1) * a.blocks_per_group;
    const int64_t b1 = group_end < a.block_end ? group_end : a.block_end;
    __m512 acc_lo[Q], acc_hi[Q];
    for (int q = 0; q < Q; ++q) acc_lo[q] = acc_hi[q] = _mm512_setzero_ps();
    for (int64_t b = b0; b < b1; ++b)
      add_block<Q>(a.signs + b * Q * 16, a.tables + b * 128, acc_lo, acc_hi,
                   a.prefetch ? a.prefetch + b * Q * 16 : nullptr);
    const float* alpha = a.alphas + g * Q * 16;
    for (int q = 0; q < Q; ++q)
      y = _mm512_fmadd_ps(_mm512_loadu_ps(alpha + q * 16), _mm512_add_ps(acc_lo[q], acc_hi[q]), y);
    b0 = b1;
  }
  _mm512_storeu_ps(a.out, y);
}

}  // namespace

void bcq_nibble_tables_avx512(const float* x, int64_t nibbles, float* tables) {
  __m512 sign[4];
  for (int j = 0; j < 4; ++j) {
    alignas(64) float s[16];
    for (int i = 0; i < 16; ++i) s[i] = ((i >> j) & 1) ? 1.0f : -1.0f;
    sign[j] = _mm512_load_ps(s);
  }
  for (int64_t k = 0; k < nibbles; ++k) {
    const float* v = x + 4 * k;
    __m512 t = _mm512_mul_ps(_mm512_set1_ps(v[0]), sign[0]);
    for (int j = 1; j < 4; ++j) t = _mm512_fmadd_ps(_mm512_set1_ps(v[j]), sign[j], t);
    _mm512_storeu_ps(tables + 16 * k, t);
  }
}

void bcq_dequantize_tile_avx512(const BcqDequantizeArgs& a) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < 16; ++i) {
    float* row = a.w + i * a.ld;
    for (int64_t b = 0; b < a.blocks; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * 16 + i;
      __m512 lo = zero, hi = zero;  // columns 0-15 and 16-31 of the block
      for (int q = 0; q < a.bits; ++q) {
        const uint32_t word = a.signs[(b * a.bits + q) * 16 + i];
        const __m512 plus = _mm512_set1_ps(alpha[q * 16]), minus = _mm512_sub_ps(zero, plus);
        lo = _mm512_add_ps(lo, _mm512_mask_blend_ps(static_cast<__mmask16>(word), minus, plus));
        hi = _mm512_add_ps(hi, _mm512_mask_blend_ps(static_cast<__mmask16>(word >> 16), minus, plus));
      }
      _mm512_storeu_ps(row + 32 * b, lo);
      _mm512_storeu_ps(row + 32 * b + 16, hi);
    }
  }
}

void bcq_tile_avx512(const BcqTileArgs& a) {
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

// AVX-512 tile kernel: 16 rows per register. A nibble table (16 signed sums of 4 activations)
// fills one zmm, so _mm512_permutexvar_ps looks up 16 rows' nibbles in one instruction; the
// index vector is the 16 sign bytes zero-extended (vpermps reads only the low 4 bits, so
// the low nibble needs no masking; the high nibble is a shift away).
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_*; GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "quant/bcq_gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

namespace bcqnmt {

namespace {

template <int Q>
inline void add_chunk(const uint8_t* s, const float* table, __m512* acc, const uint8_t* prefetch) {
  if (prefetch) {  // first and last byte of the chunk's Q * 16 bytes: every line it touches
    _mm_prefetch(reinterpret_cast<const char*>(prefetch), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(prefetch + Q * 16 - 1), _MM_HINT_T0);
  }
  const __m512 t_lo = _mm512_loadu_ps(table);       // columns 8c .. 8c+3
  const __m512 t_hi = _mm512_loadu_ps(table + 16);  // columns 8c+4 .. 8c+7
  for (int q = 0; q < Q; ++q) {
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + q * 16)));
    const __m512 sum = _mm512_add_ps(_mm512_permutexvar_ps(b, t_lo),
                                     _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), t_hi));
    acc[q] = _mm512_add_ps(acc[q], sum);
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m512 y = _mm512_loadu_ps(a.out);
  for (int64_t c0 = a.chunk_begin; c0 < a.chunk_end;) {
    const int64_t g = c0 / a.chunks_per_group;
    const int64_t group_end = (g + 1) * a.chunks_per_group;
    const int64_t c1 = group_end < a.chunk_end ? group_end : a.chunk_end;
    // Two accumulator sets (even / odd chunks) halve the add dependency chain for small Q.
    __m512 acc0[Q], acc1[Q];
    for (int q = 0; q < Q; ++q) acc0[q] = acc1[q] = _mm512_setzero_ps();
    int64_t c = c0;
    auto ahead = [&](int64_t chunk) { return a.prefetch ? a.prefetch + chunk * Q * 16 : nullptr; };
    for (; c + 1 < c1; c += 2) {
      add_chunk<Q>(a.signs + c * Q * 16, a.tables + c * 32, acc0, ahead(c));
      add_chunk<Q>(a.signs + (c + 1) * Q * 16, a.tables + (c + 1) * 32, acc1, ahead(c + 1));
    }
    if (c < c1) add_chunk<Q>(a.signs + c * Q * 16, a.tables + c * 32, acc0, ahead(c));
    const float* alpha = a.alphas + g * Q * 16;
    for (int q = 0; q < Q; ++q)
      y = _mm512_fmadd_ps(_mm512_loadu_ps(alpha + q * 16), _mm512_add_ps(acc0[q], acc1[q]), y);
    c0 = c1;
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

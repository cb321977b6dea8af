// AVX-512 tile kernel: 16 rows per register, integer tables (quant/bcq_gemm.h, "Table
// rounding"). A block's tables are four registers of 32 int16 entries: register k holds the
// table of nibble k (entries 0-15) and of nibble k + 4 (entries 16-31). A sign word of a row is
// two 16-bit lanes, columns 0-15 and 16-31, so one _mm512_permutexvar_epi16 (vpermw, which
// reads the low 5 bits of each lane) looks up nibble k of the low lane and nibble k + 4 of the
// high lane of all 16 rows at once, once bit 4 of the high lane's index is set: index k is
// ((word >> 4k) & 0x000F000F) | 0x00100000, one shift and one vpternlogd. Four lookups are
// summed in int16 (|sum| <= 4 x 8191, no overflow) and vpdpwssd (AVX512-VNNI) adds each row's
// two lanes into its int32 accumulator, the work of vpmaddwd and vpaddd in one instruction.
// Against the fp32 tables this replaced (one vpermps per nibble of 16 rows): 16 vector
// operations per 16 rows x 32 columns x 1 plane, the sign load included (17 with vpmaddwd +
// vpaddd), instead of 24, 0.65 vs 0.96 ns per 16 x 8 x 1 lookup cache-resident with vpmaddwd +
// vpaddd (Zen 4, load ~2); vpdpwssd took 4096 x 4096
// from 268-275 to 248-251 us in L3 and from 285-301 to 277-282 us streamed (1 thread).
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_*; GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "quant/bcq_gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")

namespace bcqnmt {

namespace {

// acc [Q] += the block's lookups, per row (int32 lanes).
template <int Q>
inline void add_block(const uint32_t* s, const int16_t* table, __m512i* acc, const uint32_t* prefetch) {
  if (prefetch)  // one cache line per plane, into L2 (quant/bcq_gemm.cpp, kPrefetchBytes)
    for (int q = 0; q < Q; ++q) _mm_prefetch(reinterpret_cast<const char*>(prefetch + q * 16), _MM_HINT_T1);
  const __m512i nibble = _mm512_set1_epi32(0x000F000F), high_lane = _mm512_set1_epi32(0x00100000);
  const __m512i ones = _mm512_set1_epi16(1);
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 32);
  const __m512i t2 = _mm512_loadu_si512(table + 64), t3 = _mm512_loadu_si512(table + 96);
  // (word & nibble) | high_lane: vpternlogd truth table 0xEA is (a & b) | c.
  auto index = [&](__m512i word) { return _mm512_ternarylogic_epi32(word, nibble, high_lane, 0xEA); };
  for (int q = 0; q < Q; ++q) {
    const __m512i w = _mm512_load_si512(s + q * 16);
    const __m512i sum01 = _mm512_add_epi16(_mm512_permutexvar_epi16(index(w), t0),
                                           _mm512_permutexvar_epi16(index(_mm512_srli_epi32(w, 4)), t1));
    const __m512i sum23 = _mm512_add_epi16(_mm512_permutexvar_epi16(index(_mm512_srli_epi32(w, 8)), t2),
                                           _mm512_permutexvar_epi16(index(_mm512_srli_epi32(w, 12)), t3));
    acc[q] = _mm512_dpwssd_epi32(acc[q], _mm512_add_epi16(sum01, sum23), ones);  // vpdpwssd: madd and add in one
  }
}

template <int Q>
void tile(const BcqTileArgs& a) {
  __m512 y = _mm512_loadu_ps(a.out);
  const int16_t* tables = static_cast<const int16_t*>(a.tables);
  for (int64_t b0 = a.block_begin; b0 < a.block_end;) {
    const int64_t g = b0 / a.blocks_per_group;
    const int64_t group_end = (g + 1) * a.blocks_per_group;
    const int64_t b1 = group_end < a.block_end ? group_end : a.block_end;
    __m512i acc[Q];
    for (int q = 0; q < Q; ++q) acc[q] = _mm512_setzero_si512();
    for (int64_t b = b0; b < b1; ++b)
      add_block<Q>(a.signs + (b - a.block_begin) * Q * 16, tables + b * 128, acc,
                   a.prefetch ? a.prefetch + (b - a.block_begin) * Q * 16 : nullptr);
    const float* alpha = a.alphas + g * Q * 16;
    const __m512 step = _mm512_set1_ps(a.table_steps[g]);
    for (int q = 0; q < Q; ++q)
      y = _mm512_fmadd_ps(_mm512_loadu_ps(alpha + q * 16), _mm512_mul_ps(_mm512_cvtepi32_ps(acc[q]), step), y);
    b0 = b1;
  }
  _mm512_storeu_ps(a.out, y);
}

}  // namespace

void bcq_dequantize_tile_avx512(const BcqDequantizeArgs& a) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < 16; ++i) {
    float* row = a.w + i * a.ld;
    for (int64_t b = a.block_begin; b < a.block_end; ++b) {
      const float* alpha = a.alphas + (b / a.blocks_per_group) * a.bits * 16 + i;
      __m512 lo = zero, hi = zero;  // columns 0-15 and 16-31 of the block
      for (int q = 0; q < a.bits; ++q) {
        const uint32_t word = a.signs[((b - a.block_begin) * a.bits + q) * 16 + i];
        const __m512 plus = _mm512_set1_ps(alpha[q * 16]), minus = _mm512_sub_ps(zero, plus);
        lo = _mm512_add_ps(lo, _mm512_mask_blend_ps(static_cast<__mmask16>(word), minus, plus));
        hi = _mm512_add_ps(hi, _mm512_mask_blend_ps(static_cast<__mmask16>(word >> 16), minus, plus));
      }
      _mm512_storeu_ps(row + 32 * b, lo);
      _mm512_storeu_ps(row + 32 * b + 16, hi);
    }
  }
}

float bcq_largest_chunk_avx512(const float* xp, int64_t k0, int64_t k1) {
  __m512 largest = _mm512_setzero_ps();  // lanes 0, 4, 8, 12: the largest of their nibbles
  for (int64_t k = k0; k < k1; k += 4) {  // 4 nibbles, one per 128-bit lane
    const __m512 a = _mm512_abs_ps(_mm512_loadu_ps(xp + 4 * k));
    // Lane 4L gets ((a0 + a1) + a2) + a3 of its nibble, chunk_magnitude's order.
    const __m512 sum = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(a, _mm512_permute_ps(a, 0x01)), _mm512_permute_ps(a, 0x02)),
        _mm512_permute_ps(a, 0x03));
    largest = _mm512_mask_max_ps(largest, 0x1111, largest, sum);
  }
  return _mm512_reduce_max_ps(largest);
}

void bcq_tabulate_avx512(const float* xp, int64_t k0, int64_t k1, float inverse_step, int16_t* tables) {
  // Lane i negates x_j where bit j of i is clear.
  const __m512 flip0 = _mm512_castsi512_ps(_mm512_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0,
                                                             INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
  const __m512 flip1 = _mm512_castsi512_ps(_mm512_setr_epi32(INT32_MIN, INT32_MIN, 0, 0, INT32_MIN, INT32_MIN, 0, 0,
                                                             INT32_MIN, INT32_MIN, 0, 0, INT32_MIN, INT32_MIN, 0, 0));
  const __m512 flip2 = _mm512_castsi512_ps(_mm512_setr_epi32(INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, 0, 0, 0, 0,
                                                             INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, 0, 0, 0, 0));
  const __m512 flip3 = _mm512_castsi512_ps(_mm512_setr_epi32(INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                                                             INT32_MIN, INT32_MIN, INT32_MIN, 0, 0, 0, 0, 0, 0, 0, 0));
  const __m512 inverse = _mm512_set1_ps(inverse_step);
  // x in every lane, negated where `flip` has the sign bit (vpxord: AVX512F, unlike vxorps).
  auto signed_x = [](float x, __m512 flip) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(x)), _mm512_castps_si512(flip)));
  };
  for (int64_t k = k0; k < k1; ++k) {
    const float* v = xp + 4 * k;
    const __m512 pair = _mm512_add_ps(signed_x(v[0], flip0), signed_x(v[1], flip1));
    const __m512 entry = _mm512_add_ps(_mm512_add_ps(pair, signed_x(v[2], flip2)), signed_x(v[3], flip3));
    // Nibble k's 16 entries at its place in [blocks][4][32]: row k % 4, half (k % 8) / 4.
    int16_t* t = tables + (k / 8) * 128 + (k % 4) * 32 + (k % 8) / 4 * 16;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t),
                        _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(entry, inverse))));
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

// u16s16_gemm_6x16c2__avx2 and u16s4_gemm_6x16c2__avx2 (AVX2 + FMA, no VNNI)
// Packed layouts n16c2_s16 (int32 bias[16]; int16 w[Kp/2][16][2]) and n16c2_s4
// (int32 bias[16]; uint8 w[Kp/2][16], low nibble = w[k], high = w[k+1]).
// Activations arrive widened to u16; vpmaddwd of exact u16 x s16 pairs (never
// vpmaddubsw on full-range u8 x s8: its int16 sums saturate).
// Register tile: 6 rows x 2 ymm accumulators (8 int32 each) + 2 weight + 1 broadcast.
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx2_epilogue.inc"

template <bool S4>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  constexpr int MR = 6;
  const uint8_t* ar[MR];  // rows of u16
  for (int i = 0; i < MR; ++i) ar[i] = a + (static_cast<size_t>(i) < mr ? i : mr - 1) * a_stride;
  __m256i acc[MR][2];
  const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));
  for (int i = 0; i < MR; ++i) acc[i][0] = b0, acc[i][1] = b1;
  const uint8_t* wp = w + 64;
  for (size_t k = 0; k < kp; k += 2) {
    __m256i w0, w1;
    if constexpr (S4) {
      const __m256i x0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wp + k * 8)));
      const __m256i x1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wp + k * 8 + 8)));
      const __m256i y0 = _mm256_slli_epi32(x0, 12), y1 = _mm256_slli_epi32(x1, 12);
      w0 = _mm256_blend_epi16(y0, _mm256_srai_epi16(y0, 12), 0x55);
      w1 = _mm256_blend_epi16(y1, _mm256_srai_epi16(y1, 12), 0x55);
    } else {
      w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + k * 32));
      w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + k * 32 + 32));
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i va = _mm256_set1_epi32(load_i32(ar[i] + k * 2));
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(va, w0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(va, w1));
    }
  }
  for (size_t i = 0; i < mr; ++i)
    for (size_t h = 0; h < 2; ++h) {
      const size_t n0 = h * 8;
      if (n0 >= nc) break;
      epilogue_store8(acc[i][h], rowsum_f(ep, i), n0, nc - n0 < 8 ? nc - n0 : 8, ep, dst, i * dst_stride + n0);
    }
}

}  // namespace

void u16s16_gemm_6x16c2__avx2(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                              const void* w, size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  tile<false>(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), dst,
              dst_stride, ep);
}

void u16s4_gemm_6x16c2__avx2(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                             const void* w, size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  tile<true>(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), dst,
             dst_stride, ep);
}

}  // namespace lapq

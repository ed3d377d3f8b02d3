// u16s16_gemm_8x32c2__avx512 (AVX-512 without VNNI)
// Packed layout n16c2_s16, per 16-channel block: int32 bias[16]; int16 w[Kp/2][16][2].
// Activations arrive widened to u16 (the conv driver writes u16 tiles), so each
// vpmaddwd multiplies exact u16 x s16 pairs: no vpmaddubsw int16 saturation.
// Register tile: 8 rows x 2 zmm accumulators. Overflow: see kernels/gemm.h.
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

template <int NB, bool S4>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  constexpr int MR = 8;
  const uint8_t* ar[MR];  // rows of u16
  for (int i = 0; i < MR; ++i) ar[i] = a + (static_cast<size_t>(i) < mr ? i : mr - 1) * a_stride;
  __m512i acc[MR][NB];
  const uint8_t* wp[NB];
  for (int b = 0; b < NB; ++b) {
    const __m512i bias = _mm512_loadu_si512(w + b * w_block_bytes);
    for (int i = 0; i < MR; ++i) acc[i][b] = bias;
    wp[b] = w + b * w_block_bytes + 64;
  }
  for (size_t k = 0; k < kp; k += 2) {
    __m512i vw[NB];
    for (int b = 0; b < NB; ++b) {
      if constexpr (S4) {
        // (Kp/2, 16) bytes: low nibble = w[k], high = w[k+1]. Sign-extend the byte
        // to int32, shift left 12: the high word is sext4(high nibble), the low
        // word needs an arithmetic >> 12 to become sext4(low nibble).
        const __m512i x = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp[b] + k * 8)));
        const __m512i y = _mm512_slli_epi32(x, 12);
        vw[b] = _mm512_mask_srai_epi16(y, 0x55555555u, y, 12);
      } else {
        vw[b] = _mm512_loadu_si512(wp[b] + k * 32);  // (16, 2) int16
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i va = _mm512_set1_epi32(load_i32(ar[i] + k * 2));  // two u16
      for (int b = 0; b < NB; ++b) acc[i][b] = _mm512_add_epi32(acc[i][b], _mm512_madd_epi16(va, vw[b]));
    }
  }
  for (size_t i = 0; i < mr; ++i)
    for (int b = 0; b < NB; ++b) {
      const size_t n0 = b * 16;
      if (n0 >= nc) break;
      epilogue_store16(acc[i][b], rowsum_f(ep, i), n0, nc - n0, ep, dst, i * dst_stride + n0, false);
    }
}

}  // namespace

void u16s16_gemm_8x32c2__avx512(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                                const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                const GemmEpilogue* ep) {
  const auto* a8 = static_cast<const uint8_t*>(a);
  const auto* w8 = static_cast<const uint8_t*>(w);
  if (nc > 16)
    tile<2, false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
  else
    tile<1, false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
}

void u16s4_gemm_8x32c2__avx512(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                               const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                               const GemmEpilogue* ep) {
  const auto* a8 = static_cast<const uint8_t*>(a);
  const auto* w8 = static_cast<const uint8_t*>(w);
  if (nc > 16)
    tile<2, true>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
  else
    tile<1, true>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
}

}  // namespace lapq

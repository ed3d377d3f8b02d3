// u8s4_gemm_8x32c8__avx512vnni
// Packed layout n16c8_s4, per 16-channel block: int32 bias16[16] (bias x16);
// uint8 w[Kp/8][16][4]: low nibble = w[8i+j], high nibble = w[8i+4+j].
// One 64-byte load feeds two vpdpbusd: (v << 4) & 0xF0 = 16*w_lo and v & 0xF0 =
// 16*w_hi, both exact in int8. The accumulators hold 16x the int8 sums; the
// epilogue multiplies by 0.0625f first (exact).
// Register tile: 8 rows x 2 zmm accumulators. Overflow: |16 w| <= 128, same bound
// as int8 (checked by the packer).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

template <int NB>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  constexpr int MR = 8;
  const uint8_t* ar[MR];
  for (int i = 0; i < MR; ++i) ar[i] = a + (static_cast<size_t>(i) < mr ? i : mr - 1) * a_stride;
  __m512i acc[MR][NB];
  const uint8_t* wp[NB];
  for (int b = 0; b < NB; ++b) {
    const __m512i bias = _mm512_loadu_si512(w + b * w_block_bytes);
    for (int i = 0; i < MR; ++i) acc[i][b] = bias;
    wp[b] = w + b * w_block_bytes + 64;  // (Kp/8, 16, 4) nibble pairs
  }
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (size_t k = 0; k < kp; k += 8) {
    __m512i wlo[NB], whi[NB];
    for (int b = 0; b < NB; ++b) {
      const __m512i v = _mm512_loadu_si512(wp[b] + k * 8);
      wlo[b] = _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0);
      whi[b] = _mm512_and_si512(v, mask_f0);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i va_lo = _mm512_set1_epi32(load_i32(ar[i] + k));
      const __m512i va_hi = _mm512_set1_epi32(load_i32(ar[i] + k + 4));
      for (int b = 0; b < NB; ++b) {
        acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], va_lo, wlo[b]);
        acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], va_hi, whi[b]);
      }
    }
  }
  for (size_t i = 0; i < mr; ++i)
    for (int b = 0; b < NB; ++b) {
      const size_t n0 = b * 16;
      if (n0 >= nc) break;
      epilogue_store16(acc[i][b], rowsum_f(ep, i), n0, nc - n0, ep, dst, i * dst_stride + n0, true);
    }
}

}  // namespace

void u8s4_gemm_8x32c8__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                                  const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                  const GemmEpilogue* ep) {
  const auto* a8 = static_cast<const uint8_t*>(a);
  const auto* w8 = static_cast<const uint8_t*>(w);
  if (nc > 16)
    tile<2>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
  else
    tile<1>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
}

}  // namespace lapq

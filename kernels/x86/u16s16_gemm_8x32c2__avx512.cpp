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
  // Named accumulators (GCC keeps them in registers; arrays cost register copies).
  // Rows beyond mr repeat the last row; their results are not stored.
  const uint8_t* a0 = a;
  const uint8_t* a1 = mr > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = mr > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = mr > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = mr > 5 ? a4 + a_stride : a4;
  const uint8_t* a6 = mr > 6 ? a5 + a_stride : a5;
  const uint8_t* a7 = mr > 7 ? a6 + a_stride : a6;
  const __m512i b0 = _mm512_loadu_si512(w);
  const __m512i b1 = NB == 2 ? _mm512_loadu_si512(w + w_block_bytes) : b0;
  __m512i c00 = b0, c10 = b0, c20 = b0, c30 = b0, c40 = b0, c50 = b0, c60 = b0, c70 = b0;
  __m512i c01 = b1, c11 = b1, c21 = b1, c31 = b1, c41 = b1, c51 = b1, c61 = b1, c71 = b1;
  const uint8_t* wp0 = w + 64;
  const uint8_t* wp1 = w + w_block_bytes + 64;
#define LAPQ_ROW(i)                                                               \
  {                                                                               \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k * 2)); /* two u16 */   \
    c##i##0 = _mm512_add_epi32(c##i##0, _mm512_madd_epi16(va, w0));               \
    if constexpr (NB == 2) c##i##1 = _mm512_add_epi32(c##i##1, _mm512_madd_epi16(va, w1)); \
  }
  for (size_t k = 0; k < kp; k += 2) {
    __m512i w0, w1;
    if constexpr (S4) {
      // (Kp/2, 16) bytes: low nibble = w[k], high = w[k+1]. Sign-extend the byte
      // to int32, shift left 12: the high word is sext4(high nibble), the low
      // word needs an arithmetic >> 12 to become sext4(low nibble).
      const __m512i y0 = _mm512_slli_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp0 + k * 8))), 12);
      w0 = _mm512_mask_srai_epi16(y0, 0x55555555u, y0, 12);
      if constexpr (NB == 2) {
        const __m512i y1 = _mm512_slli_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp1 + k * 8))), 12);
        w1 = _mm512_mask_srai_epi16(y1, 0x55555555u, y1, 12);
      } else {
        w1 = w0;
      }
    } else {
      w0 = _mm512_loadu_si512(wp0 + k * 32);  // (16, 2) int16
      w1 = NB == 2 ? _mm512_loadu_si512(wp1 + k * 32) : w0;
    }
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5) LAPQ_ROW(6) LAPQ_ROW(7)
  }
#undef LAPQ_ROW
#define LAPQ_STORE(i)                                                                            \
  if (mr > i) {                                                                                  \
    const __m512 rs = rowsum_f(&e, i);                                                           \
    const __m512 y0 = epilogue_y(c##i##0, rs, 0, nc, e, false);                                  \
    const __m512 y1 = NB == 2 ? epilogue_y(c##i##1, rs, 16, nc - 16, e, false) : y0;             \
    if (e.f32_out) {                                                                             \
      float* d = static_cast<float*>(dst) + i * dst_stride;                                      \
      _mm512_mask_storeu_ps(d, mask16(nc), y0);                                                  \
      if (NB == 2) _mm512_mask_storeu_ps(d + 16, mask16(nc - 16), y1);                           \
    } else {                                                                                     \
      const __m512i q0 = epilogue_q(y0, e), q1 = epilogue_q(y1, e);                              \
      store_u8x64(q0, q1, q0, q1, static_cast<uint8_t*>(dst) + i * dst_stride, nc);              \
    }                                                                                            \
  }
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  LAPQ_STORE(0) LAPQ_STORE(1) LAPQ_STORE(2) LAPQ_STORE(3) LAPQ_STORE(4) LAPQ_STORE(5) LAPQ_STORE(6) LAPQ_STORE(7)
#undef LAPQ_STORE
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

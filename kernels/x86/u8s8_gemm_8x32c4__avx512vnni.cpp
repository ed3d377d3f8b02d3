// u8s8_gemm_8x32c4__avx512vnni
// Packed layout n16c4_s8, per 16-channel block: int32 bias[16]; int8 w[Kp/4][16][4]
// (one 64-byte load = one vpdpbusd operand). Two blocks (32 channels) per call.
// Register tile: 8 rows x 2 zmm accumulators (16 int32 each) = 16 accumulators,
// 2 weight registers; activations are broadcast 4 bytes at a time.
// Overflow: |sum (a - za) w + bias| < 2^31 is guaranteed by the packer (K bound);
// intermediate wraparound is harmless (two's complement sums are associative).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

template <int NB>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  constexpr int MR = 8;
  const uint8_t* ar[MR];  // rows beyond mr repeat the last row (results not stored)
  for (int i = 0; i < MR; ++i) ar[i] = a + (static_cast<size_t>(i) < mr ? i : mr - 1) * a_stride;
  __m512i acc[MR][NB];
  const uint8_t* wp[NB];
  for (int b = 0; b < NB; ++b) {
    const __m512i bias = _mm512_loadu_si512(w + b * w_block_bytes);
    for (int i = 0; i < MR; ++i) acc[i][b] = bias;
    wp[b] = w + b * w_block_bytes + 64;  // (Kp/4, 16, 4) int8
  }
  for (size_t k = 0; k < kp; k += 4) {
    __m512i vw[NB];
    for (int b = 0; b < NB; ++b) vw[b] = _mm512_loadu_si512(wp[b] + k * 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i va = _mm512_set1_epi32(load_i32(ar[i] + k));
      for (int b = 0; b < NB; ++b) acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], va, vw[b]);
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

void u8s8_gemm_8x32c4__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
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

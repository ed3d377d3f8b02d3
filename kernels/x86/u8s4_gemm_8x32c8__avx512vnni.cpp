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

// INDIRECT = false: rows at a + i * a_stride, K = kp.
// INDIRECT = true: igemm; row i reads `taps` segments of kc bytes from ptrs[i * taps + t].
template <int NB, bool INDIRECT>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep,
          size_t taps = 1, const uint8_t* const* ptrs = nullptr) {
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
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
#define LAPQ_ROW(i)                                                 \
  {                                                                 \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k));       \
    const __m512i vb = _mm512_set1_epi32(load_i32(a##i + k + 4));   \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                 \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, vb, x0);                 \
    if constexpr (NB == 2) {                                        \
      c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1);               \
      c##i##1 = _mm512_dpbusd_epi32(c##i##1, vb, x1);               \
    }                                                               \
  }
  const size_t kc = kp;  // K of one segment (all of K without indirection)
  for (size_t t = 0; t < taps; ++t) {
  if constexpr (INDIRECT) {
    const uint8_t* const* p = ptrs + t;  // (8, taps) pointers, rows >= mr repeat valid ones
    a0 = p[0];
    a1 = p[mr > 1 ? taps : 0];
    a2 = p[(mr > 2 ? 2 : mr - 1) * taps];
    a3 = p[(mr > 3 ? 3 : mr - 1) * taps];
    a4 = p[(mr > 4 ? 4 : mr - 1) * taps];
    a5 = p[(mr > 5 ? 5 : mr - 1) * taps];
    a6 = p[(mr > 6 ? 6 : mr - 1) * taps];
    a7 = p[(mr > 7 ? 7 : mr - 1) * taps];
  }
  for (size_t k = 0; k < kc; k += 8) {
    const __m512i v0 = _mm512_loadu_si512(wp0 + k * 8);
    const __m512i v1 = NB == 2 ? _mm512_loadu_si512(wp1 + k * 8) : v0;
    const __m512i w0 = _mm512_and_si512(_mm512_slli_epi16(v0, 4), mask_f0), x0 = _mm512_and_si512(v0, mask_f0);
    const __m512i w1 = _mm512_and_si512(_mm512_slli_epi16(v1, 4), mask_f0), x1 = _mm512_and_si512(v1, mask_f0);
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5) LAPQ_ROW(6) LAPQ_ROW(7)
  }
  if constexpr (INDIRECT) {
    wp0 += kc * 8;
    wp1 += kc * 8;
  }
  }
#undef LAPQ_ROW
#define LAPQ_STORE(i)                                                                            \
  if (mr > i) {                                                                                  \
    const __m512 rs = rowsum_f(&e, i);                                                           \
    const __m512 y0 = epilogue_y(c##i##0, rs, 0, nc, e, true);                                  \
    const __m512 y1 = NB == 2 ? epilogue_y(c##i##1, rs, 16, nc - 16, e, true) : y0;             \
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

// One row (batch-1 fully connected layers): 4 independent accumulators per
// column hide the vpdpbusd latency; integer sums are exact in any order.
template <int NB>
void tile_m1(size_t nc, size_t kp, const uint8_t* a, const uint8_t* w, size_t w_block_bytes, void* dst,
             const GemmEpilogue* ep) {
  const uint8_t* wp[2] = {w + 64, w + w_block_bytes + 64};
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m512i c[2][4];
  c[0][0] = _mm512_loadu_si512(w);
  c[1][0] = NB == 2 ? _mm512_loadu_si512(w + w_block_bytes) : c[0][0];
  c[0][1] = c[0][2] = c[0][3] = c[1][1] = c[1][2] = c[1][3] = _mm512_setzero_si512();
  size_t k = 0;
  for (; k + 16 <= kp; k += 16) {
    const __m512i va0 = _mm512_set1_epi32(load_i32(a + k)), vb0 = _mm512_set1_epi32(load_i32(a + k + 4));
    const __m512i va1 = _mm512_set1_epi32(load_i32(a + k + 8)), vb1 = _mm512_set1_epi32(load_i32(a + k + 12));
#pragma GCC unroll 2
    for (int b = 0; b < NB; ++b) {
      const __m512i v0 = _mm512_loadu_si512(wp[b] + k * 8), v1 = _mm512_loadu_si512(wp[b] + k * 8 + 64);
      c[b][0] = _mm512_dpbusd_epi32(c[b][0], va0, _mm512_and_si512(_mm512_slli_epi16(v0, 4), mask_f0));
      c[b][1] = _mm512_dpbusd_epi32(c[b][1], vb0, _mm512_and_si512(v0, mask_f0));
      c[b][2] = _mm512_dpbusd_epi32(c[b][2], va1, _mm512_and_si512(_mm512_slli_epi16(v1, 4), mask_f0));
      c[b][3] = _mm512_dpbusd_epi32(c[b][3], vb1, _mm512_and_si512(v1, mask_f0));
    }
  }
  for (; k < kp; k += 8) {
    const __m512i va = _mm512_set1_epi32(load_i32(a + k)), vb = _mm512_set1_epi32(load_i32(a + k + 4));
    for (int b = 0; b < NB; ++b) {
      const __m512i v = _mm512_loadu_si512(wp[b] + k * 8);
      c[b][0] = _mm512_dpbusd_epi32(c[b][0], va, _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0));
      c[b][1] = _mm512_dpbusd_epi32(c[b][1], vb, _mm512_and_si512(v, mask_f0));
    }
  }
  const __m512 rs = rowsum_f(ep, 0);
  for (int b = 0; b < NB; ++b) {
    const __m512i s = _mm512_add_epi32(_mm512_add_epi32(c[b][0], c[b][1]), _mm512_add_epi32(c[b][2], c[b][3]));
    epilogue_store16(s, rs, b * 16, nc - b * 16, ep, dst, b * 16, true);
  }
}

}  // namespace

void u8s4_gemm_8x32c8__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                                  const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                  const GemmEpilogue* ep) {
  const auto* a8 = static_cast<const uint8_t*>(a);
  const auto* w8 = static_cast<const uint8_t*>(w);
  if (mr == 1) {
    if (nc > 16)
      tile_m1<2>(nc, kp, a8, w8, w_block_bytes, dst, ep);
    else
      tile_m1<1>(nc, kp, a8, w8, w_block_bytes, dst, ep);
    return;
  }
  if (nc > 16)
    tile<2, false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
  else
    tile<1, false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
}

void u8s4_igemm_8x32c8__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                   const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                   const GemmEpilogue* ep) {
  const auto* w8 = static_cast<const uint8_t*>(w);
  if (nc > 16)
    tile<2, true>(mr, nc, kc, nullptr, 0, w8, w_block_bytes, dst, dst_stride, ep, taps, ptrs);
  else
    tile<1, true>(mr, nc, kc, nullptr, 0, w8, w_block_bytes, dst, dst_stride, ep, taps, ptrs);
}

}  // namespace lapq
